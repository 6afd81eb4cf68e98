"""``vegdask download URL --to DIR|FILE.zip``: a run's summary, tables and report (local or abfs://)."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from vegdask.cli._common import CLIError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``download`` subcommand."""
    parser = subparsers.add_parser(
        "download",
        help="fetch a run's summary, tables and report to a directory or a .zip",
        description=(
            "Copy run.json, results_summary.json, tiles.parquet, report.html and analysis/ "
            "tables and figures of a run (local path or abfs://container/prefix; credentials "
            "from AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME/KEY) to DIR or "
            "FILE.zip. Existing files are never overwritten."
        ),
    )
    parser.add_argument("url", help="the run's output (path or abfs:// URL)")
    parser.add_argument("--to", required=True, help="destination directory or FILE.zip")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Download the run's files; refuse to overwrite anything."""
    from vegdask.data import RunStore, ensure_container

    target = Path(args.to)
    if target.exists() and not target.is_dir() and target.suffix != ".zip":
        raise CLIError(f"{target} is an existing file: give a directory or a new FILE.zip")
    try:
        ensure_container(args.url, create=False)  # refused credentials, a bad key, no answer
        store = RunStore(args.url)
        files = store.reader_files()
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from err
    if target.suffix == ".zip":
        if target.exists():
            raise CLIError(f"{target} exists: choose a new file name")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                archive.writestr(rel, store.read_bytes(rel))
    else:
        clashes = [rel for rel in files if (target / rel).exists()]
        if clashes:
            raise CLIError(f"{target} already has {clashes[0]}: choose an empty directory")
        for rel in files:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(store.read_bytes(rel))
    print(f"{len(files)} files of {args.url} in {target}")
    return 0
