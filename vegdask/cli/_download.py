"""``vegdask download URL DIR|FILE.zip``: a run's summary, tables and report (local or abfs://).

Nothing is written until every file is fetched: files go to a temporary name beside the
destination (a hidden folder, or ``.NAME.zip.partial``), which is renamed into place at the end
and removed on any failure, so an interrupted download leaves neither partial files nor a
valid-looking partial zip. Existing files are never overwritten and symbolic links inside the
destination are refused (a dangling one would send a file outside it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
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
    parser.add_argument("dest", nargs="?", help="destination directory or FILE.zip")
    parser.add_argument("--to", help="destination directory or FILE.zip (instead of DEST)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Download the run's files; refuse to overwrite anything."""
    from vegdask.data import RunStore
    from vegdask.data.storage import ensure_container

    target = _destination(args.dest, args.to)
    try:
        ensure_container(args.url, create=False)  # refused credentials, a bad key, no answer
        store = RunStore(args.url)
        files = store.reader_files()
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from err
    write = _write_zip if target.suffix == ".zip" else _write_dir
    try:
        write(target, files, store.read_bytes)
    except (ValueError, OSError) as err:
        raise CLIError(f"could not download {args.url} to {target}: {_reason(err)}") from err
    print(f"{len(files)} files of {args.url} in {target}")
    return 0


def _destination(dest: str | None, to: str | None) -> Path:
    """The one destination given, checked before anything is fetched."""
    if dest and to and dest != to:
        raise CLIError(f"two destinations ({dest} and --to {to}): give one")
    given = dest or to
    if not given:
        raise CLIError("no destination: vegdask download URL DIR or vegdask download URL FILE.zip")
    target = Path(given)
    existing = next(p for p in (target, *target.parents) if os.path.lexists(p))
    if existing != target and not existing.is_dir():
        raise CLIError(f"{existing} is not a folder, so {target} cannot be created under it")
    if target.suffix == ".zip" and existing == target:
        raise CLIError(f"{target} exists: choose a new file name")
    if existing == target and not target.is_dir():
        raise CLIError(f"{target} is an existing file: give a directory or a new FILE.zip")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write in {existing} (permission denied): choose another place")
    return target


def _reason(err: BaseException) -> str:
    """An error's reason, with the file it concerns unless that is a temporary one of ours."""
    if not isinstance(err, OSError) or not err.strerror:
        return str(err)
    name = str(err.filename or "")
    return f"{err.strerror}: {name}" if name and ".partial" not in name else err.strerror


def _folder_of(path: Path) -> Path:
    """``path`` if it is a folder, else its nearest existing folder above."""
    return next(p for p in (path, *path.parents) if p.is_dir())


@contextlib.contextmanager
def _staging(folder: Path, name: str, kind: str) -> Iterator[Path]:
    """A hidden temporary file or folder in ``folder``, removed unless renamed away."""
    if kind == "file":
        fd, staged = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
        os.close(fd)
    else:
        staged = tempfile.mkdtemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    try:
        yield Path(staged)
    finally:
        if os.path.isdir(staged):
            shutil.rmtree(staged, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)


def _write_zip(target: Path, files: list[str], read: Callable[[str], bytes]) -> None:
    with _staging(_folder_of(target.parent), target.name, "file") as partial:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                archive.writestr(rel, read(rel))
        target.parent.mkdir(parents=True, exist_ok=True)
        _place(partial, target)


def _links_or_clashes(target: Path, files: list[str]) -> None:
    """Refuse a destination where a file exists or a symbolic link is on a file's way."""
    for rel in files:
        for inside in [*reversed(Path(rel).parents[:-1]), Path(rel)]:
            path = target / inside
            if path.is_symlink():
                raise CLIError(
                    f"{path} is a symbolic link: vegdask download does not write through links; "
                    "choose another directory"
                )
        if os.path.lexists(target / rel):
            raise CLIError(f"{target} already has {rel}: choose an empty directory")


def _write_dir(target: Path, files: list[str], read: Callable[[str], bytes]) -> None:
    if target.is_dir():
        _links_or_clashes(target, files)
    with _staging(_folder_of(target), target.name, "dir") as staged:
        for rel in files:
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_bytes(read(rel))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            _place(staged, target)
            return
        _links_or_clashes(target, files)  # again: the folder may have changed meanwhile
        for rel in files:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            _place(staged / rel, target / rel)


def _place(source: Path, destination: Path) -> None:
    """Rename ``source`` to ``destination``, which must not exist (not even as a link)."""
    if os.path.lexists(destination):
        raise FileExistsError(17, "File exists", str(destination))
    os.rename(source, destination)
