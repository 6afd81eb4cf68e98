"""Helpers shared by the subcommands: errors a user can act on, as one line."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = [
    "CLIError",
    "Terminated",
    "check_writable",
    "configure_logging",
    "describe_error",
    "interrupts",
]


class CLIError(Exception):
    """An error the user can act on: printed as one line, exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM: stops a command as Ctrl-C does (clusters, Batch pools released), exit status 143."""


# Exceptions of the Azure SDK and aiohttp meaning "blob storage did not answer", by class name so
# that the SDK need not be imported (it is an optional extra) and so that a worker's exception
# that came back as a plain ``Exception("ServiceRequestError(...)")`` is recognised too.
_CONNECTION_LOST = (
    "ServiceRequestError",
    "ServiceResponseError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ClientOSError",
)
_REFUSED = ("ClientAuthenticationError",)


def describe_error(err: BaseException) -> str | None:
    """One line for an error of blob storage raised anywhere in a run, else None.

    Lost connections, missing or refused credentials, and any other error status it answered.

    Examples
    --------
    >>> describe_error(Exception("ServiceRequestError('Cannot connect to host 127.0.0.1:1')"))
    'lost the connection to blob storage (ServiceRequestError); rerun the same command to resume once it answers'
    >>> from azure.core.exceptions import HttpResponseError
    >>> error = HttpResponseError("The API version is not supported." + chr(10) + "RequestId:1")
    >>> from azure.storage.blob import StorageErrorCode
    >>> error.status_code, error.error_code = 400, StorageErrorCode.INVALID_HEADER_VALUE
    >>> describe_error(error)
    'blob storage answered HTTP 400 InvalidHeaderValue: The API version is not supported.'
    >>> describe_error(ValueError("a bug")) is None
    True
    """  # noqa: E501
    names = {cls.__name__ for cls in type(err).__mro__}
    text = str(err)
    lost = [n for n in _CONNECTION_LOST if n in names or text.startswith(f"{n}(")]
    if lost:
        return (
            f"lost the connection to blob storage ({lost[0]}); rerun the same command to resume "
            "once it answers"
        )
    status = getattr(err, "status_code", None)
    if names & set(_REFUSED) and status is None:  # no credential at all, not a refused one
        return (
            "no credentials for blob storage: set AZURE_STORAGE_CONNECTION_STRING, or "
            "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, or sign in to Azure "
            "(az login, a managed identity) with access to the account"
        )
    if names & set(_REFUSED) or ("HttpResponseError" in names and status in (401, 403)):
        return (
            f"blob storage refused the credentials (HTTP {status}); check "
            "AZURE_STORAGE_CONNECTION_STRING or the account name and key"
        )
    if "HttpResponseError" in names and status is not None:  # it answered, with an error
        from vegdask.data.storage import storage_answer

        return f"blob storage answered {storage_answer(err)}"
    return None


def check_writable(path: str, *, folder: bool, flag: str = "--output") -> None:
    """Refuse, before anything is written, a local ``path`` that cannot be written as asked.

    ``folder``: ``path`` is to be a folder (it may exist as one), else a file (it must not be a
    folder). Its first existing ancestor must be a folder this process can create files in (a
    temporary file is created there and removed at once). URLs (``abfs://``) are left alone.

    Raises
    ------
    CLIError
        Naming ``flag``, the path and what is wrong.

    Examples
    --------
    >>> check_writable("/etc/hostname", folder=True)
    Traceback (most recent call last):
    ...
    vegdask.cli._common.CLIError: --output /etc/hostname is a file; give a folder
    """
    import tempfile
    from pathlib import Path

    if "://" in str(path):
        return
    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        raise CLIError(f"{flag} {path} is a file; give a folder")
    if not folder and target.is_dir():
        raise CLIError(f"{flag} {path} is a folder; give a file name")
    parent = target if folder else target.parent
    existing = next(p for p in (parent, *parent.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise CLIError(f"{flag} {path} is under {existing}, which is a file, not a folder")
    if not folder and existing != parent:
        raise CLIError(f"{flag} {path}: the folder {parent} does not exist")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise CLIError(f"{flag} {path}: cannot write in {existing} ({err.strerror})") from None


def configure_logging() -> None:
    """The command line's logging, set once as a command starts (the library leaves it alone).

    adlfs leaves the sessions that zarr's own filesystem instances opened to finalizers, which
    cannot run once zarr's event loop has stopped at exit: aiohttp's notes about them would end
    even a successful command's output (nothing is unwritten by then). DefaultAzureCredential
    logs every credential it tried (some 40 lines) before it fails; the command says in one line
    what to set instead.
    """
    from vegdask.pipeline import drop_unclosed_session_notes

    drop_unclosed_session_notes()
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)


# Callbacks whose exceptions Python prints as "Exception ignored" and drops: a Ctrl-C handled
# while one runs (Dask's garbage-collection timer, a finalizer) would be lost.
def _inside_ignoring_callback(frame: FrameType | None) -> bool:
    for _ in range(3):  # the callback itself or what it calls
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name in ("_gc_callback", "__del__") or (
            code.co_name == "__call__" and code.co_filename.endswith("weakref.py")
        ):
            return True
        frame = frame.f_back
    return False


def _deliver_again(signum: int) -> None:
    # Only while the command still handles Ctrl-C: once it has stopped on one, a second SIGINT
    # would kill the exiting interpreter (exit status -2 instead of 130).
    if signal.getsignal(signum) is _on_sigint:
        os.kill(os.getpid(), signum)


def _inside_exec_of_source(frame: FrameType | None) -> bool:
    # Code that exec() compiled from a string, as dataclasses define their methods while a module
    # is imported: a KeyboardInterrupt raised there made the interpreter end with SIGINT (exit
    # status -2) once the command had handled it and returned 130.
    return frame is not None and frame.f_code.co_filename == "<string>"


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    # raised in these places it would be dropped, or end the process with -2: deliver it again
    if _inside_ignoring_callback(frame) or _inside_exec_of_source(frame):
        timer = threading.Timer(0.05, _deliver_again, (signum,))
        timer.daemon = True  # the interpreter does not wait for it at exit
        timer.start()
        return
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def interrupts(*, exiting: bool = False) -> Iterator[None]:
    """Ctrl-C raises ``KeyboardInterrupt`` in the main thread, not in a callback that drops it.

    SIGTERM raises `Terminated` (a ``KeyboardInterrupt``) the same way, so that a terminated
    command releases what Ctrl-C releases (its cluster, the Batch job and pool it created). The
    previous handlers are restored afterwards. With ``exiting`` (a command that stops on
    Ctrl-C), SIGINT is ignored instead once an interrupt has stopped the block: a second one
    arriving while the command prints its message and the interpreter exits would otherwise end
    the process with status -2 instead of 130. Outside the main thread, or where SIGINT is
    ignored, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    previous_term = signal.signal(signal.SIGTERM, _on_sigint)
    stopped = False
    try:
        yield
    except KeyboardInterrupt:
        stopped = True
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if stopped and exiting else previous)
        signal.signal(signal.SIGTERM, signal.SIG_IGN if stopped and exiting else previous_term)
