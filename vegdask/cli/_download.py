"""``vegdask download URL --to DIR|FILE.zip``: a run's summary, tables and report (local or abfs://)."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from vegdask.cli._common import CLIError

# What a reader of a run needs, relative to its output; Zarr stores stay where they are.
TOP_LEVEL = ("run.json", "results_summary.json", "tiles.parquet", "report.html")
ANALYSIS_SUFFIXES = (".csv", ".json", ".png", ".svg", ".html")


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


def run_files(url: str) -> tuple[object, str, list[str]]:
    """The filesystem, the run's root path on it and the relative paths to download."""
    from vegdask.data import ensure_container, filesystem

    try:
        ensure_container(url, create=False)  # refused credentials, a bad key, no answer
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from err
    fs, root = filesystem(url)
    root = root.rstrip("/")
    if not fs.exists(f"{root}/run.json") and not fs.exists(f"{root}/results_summary.json"):
        raise CLIError(
            f"{url} is not a vegdask run: it has neither run.json nor results_summary.json"
        )
    wanted = []
    for name in TOP_LEVEL:  # tiles.parquet may be a file or a directory of parts
        if fs.exists(f"{root}/{name}"):
            wanted += [p[len(root) + 1 :] for p in fs.find(f"{root}/{name}")]
    if fs.isdir(f"{root}/analysis"):
        for path in fs.ls(f"{root}/analysis", detail=False):
            if path.endswith(ANALYSIS_SUFFIXES) and fs.isfile(path):
                wanted.append(path.rstrip("/")[len(root) + 1 :])
    return fs, root, wanted


def run(args: argparse.Namespace) -> int:
    """Download the run's files; refuse to overwrite anything."""
    target = Path(args.to)
    if target.exists() and not target.is_dir() and target.suffix != ".zip":
        raise CLIError(f"{target} is an existing file: give a directory or a new FILE.zip")
    fs, root, files = run_files(args.url)
    if target.suffix == ".zip":
        if target.exists():
            raise CLIError(f"{target} exists: choose a new file name")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                archive.writestr(rel, fs.cat_file(f"{root}/{rel}"))
    else:
        clashes = [rel for rel in files if (target / rel).exists()]
        if clashes:
            raise CLIError(f"{target} already has {clashes[0]}: choose an empty directory")
        for rel in files:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(fs.cat_file(f"{root}/{rel}"))
    print(f"{len(files)} files of {args.url} in {target}")
    return 0
