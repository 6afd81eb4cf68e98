"""One run per output: a lock taken before a run writes anything, and the output's own checks.

Locally the lock is a file, ``<output>/run.lock``, created exclusively and holding the host, the
process id and the start time of the run that holds it. On ``abfs://`` it is a lease on the blob
``<prefix>/run.lock``, renewed while the run goes. A lock left behind is stale, and taken over,
when its process is gone (same host: the pid is not alive, or belongs to a younger process), when
it is not whole (empty or truncated, e.g. by a full disk; after :data:`WRITE_GRACE_SECONDS`, the
time its run has to write it) or, on blob storage, when its lease expired (:data:`LEASE_SECONDS`
after the run stopped renewing).

:func:`check_output` refuses an output that is a file, and an output that holds a store of a run
(``scene.zarr``, ...) without the run's manifest: that folder was not written by vegdask, and a
run would replace it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from vegdask.data.storage import blob_service, filesystem, is_remote, split_container
from vegdask.pipeline._manifest import STAGE_OUTPUTS

__all__ = [
    "LEASE_SECONDS",
    "OUTPUT_NAMES",
    "WRITE_GRACE_SECONDS",
    "OutputInUseError",
    "check_output",
    "output_lock",
]

#: What a run writes at its output (besides ``run.json``, its manifest, and ``run.lock``).
OUTPUT_NAMES = tuple(name for names in STAGE_OUTPUTS.values() for name in names)
#: A local lock that is not whole (empty, truncated) and older than this is stale: a run writes
#: its lock within moments of creating it.
WRITE_GRACE_SECONDS = 5.0
#: Lease of an ``abfs://`` output's lock; renewed every third of it.
LEASE_SECONDS = 60
_LOCK = "run.lock"


class OutputInUseError(RuntimeError):
    """Another run holds the output's lock."""


def check_output(output: str, *, force: bool = False) -> None:
    """Refuse an output that is a file, or that holds run stores vegdask did not write.

    A folder named like a store (``scene.zarr``, ...) without the ``run.json`` of the run that
    wrote it would be replaced by the run: that is an error unless ``force``.

    Raises
    ------
    NotADirectoryError
        If ``output`` is a file.
    FileExistsError
        Naming the first such folder or file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "scene.zarr").mkdir()
    >>> try:
    ...     check_output(str(folder))
    ... except FileExistsError as err:
    ...     print(str(err).replace(str(folder), "OUT")[:49])
    OUT/scene.zarr exists but OUT has no run.json: it
    >>> check_output(str(folder), force=True)
    """
    fs, root = filesystem(output)
    root = root.rstrip("/")
    if fs.isfile(root):
        raise NotADirectoryError(
            f"output {output} is a file; give a directory (new, or that of an earlier run)"
        )
    if force or fs.exists(f"{root}/run.json"):
        return
    for name in OUTPUT_NAMES:
        if fs.exists(f"{root}/{name}"):
            where = f"{output.rstrip('/')}/{name}"
            raise FileExistsError(
                f"{where} exists but {output} has no run.json: it was not written by a vegdask "
                "run and the run would replace it; move it, choose another --output, or pass "
                "--force to replace it"
            )


def _owner() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _in_use(output: str, owner: dict[str, Any], hint: str) -> OutputInUseError:
    return OutputInUseError(
        f"output {output} is in use by another run (since {owner.get('started', '?')}, host "
        f"{owner.get('host', '?')}, pid {owner.get('pid', '?')}){hint}"
    )


def _alive_since(pid: int, started: str) -> bool:
    """Whether process ``pid`` runs and started no later than ``started`` (not a reused pid)."""
    import psutil

    try:
        created = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
    return created <= dt.datetime.fromisoformat(started).timestamp() + 1


def _whole(owner: dict[str, Any]) -> bool:
    """Whether a lock holds what this code writes (a disk filled or a file emptied may not)."""
    try:
        int(owner["pid"])
        dt.datetime.fromisoformat(str(owner["started"]))
    except (KeyError, TypeError, ValueError):
        return False
    return isinstance(owner.get("host"), str)


def _stale(owner: dict[str, Any]) -> bool:
    """Whether a whole lock's run is gone; another machine's process cannot be checked."""
    if owner["host"] != socket.gethostname():
        return False
    return not _alive_since(int(owner["pid"]), str(owner["started"]))


def _read_lock(path: str) -> tuple[dict[str, Any] | None, float]:
    """A lock file's content (``{}`` if not a JSON object, None if gone) and its age in seconds."""
    try:
        age = time.time() - os.stat(path).st_mtime
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None, 0.0  # released meanwhile: try again
    try:
        holder = json.loads(text)
    except (ValueError, RecursionError):
        return {}, age
    return holder if isinstance(holder, dict) else {}, age


def _take_over(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, f"{path}.stale-{os.getpid()}")  # atomic: one taker wins
        os.remove(f"{path}.stale-{os.getpid()}")


@contextlib.contextmanager
def _local_lock(output: str) -> Iterator[None]:
    _, folder = filesystem(output)  # a plain path, also for file:// URLs
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, _LOCK)
    owner = _owner()
    deadline = time.monotonic() + WRITE_GRACE_SECONDS + 5
    while time.monotonic() < deadline:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder, age = _read_lock(path)
            if holder is None:
                continue
            if _whole(holder) and not _stale(holder):
                raise _in_use(output, holder, f"; if no run is going, delete {path}") from None
            if not _whole(holder) and age < WRITE_GRACE_SECONDS:
                time.sleep(0.1)  # a run that has just created it may still be writing it
                continue
            _take_over(path)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(owner, f)
        break
    else:
        raise OutputInUseError(f"output {output}: could not take {path}")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        if created:  # a run that stopped before writing anything leaves no empty folder
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def _blob_client(output: str) -> Any:
    container, prefix = split_container(output)
    blob = f"{prefix}/{_LOCK}" if prefix else _LOCK
    return blob_service(output).get_blob_client(container, blob)


@contextlib.contextmanager
def _lease_lock(output: str) -> Iterator[None]:
    from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
    from azure.storage.blob import BlobLeaseClient

    blob = _blob_client(output)
    with contextlib.suppress(ResourceExistsError):
        blob.upload_blob(b"{}", overwrite=False)
    lease = BlobLeaseClient(blob)
    try:
        lease.acquire(lease_duration=LEASE_SECONDS)
    except HttpResponseError as err:
        if err.status_code != 409:
            raise
        try:
            holder = json.loads(blob.download_blob().readall() or b"{}")
        except (HttpResponseError, ValueError):
            holder = {}
        hint = f"; a stopped run's lock expires {LEASE_SECONDS} s after it stopped"
        raise _in_use(output, holder, hint) from None
    blob.upload_blob(json.dumps(_owner()).encode(), overwrite=True, lease=lease)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            with contextlib.suppress(AzureError):  # storage lost: the run fails on it anyway
                lease.renew()

    renewer = threading.Thread(target=renew, name="vegdask-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        with contextlib.suppress(AzureError):  # storage lost: the lease expires by itself
            lease.release()


@contextlib.contextmanager
def output_lock(output: str) -> Iterator[None]:
    """Hold ``output`` for one run: a lock file locally, a blob lease on ``abfs://``.

    Raises
    ------
    OutputInUseError
        "output X is in use by another run (since T, host H, pid P)" if a live run holds it.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with output_lock(folder):
    ...     try:
    ...         with output_lock(folder):
    ...             pass
    ...     except OutputInUseError as err:
    ...         print(str(err).replace(folder, "OUT")[:40])
    output OUT is in use by another run (sin
    """
    with _lease_lock(output) if is_remote(output) else _local_lock(output):
        yield
