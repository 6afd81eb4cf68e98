"""One line for the user when a run fails or is interrupted, not every worker's traceback.

A terminal sends SIGINT to its whole foreground process group, so without this every local Dask
worker process would print its own ``KeyboardInterrupt`` traceback: local workers start with SIGINT
ignored, and the driver catches the interrupt, closes the cluster and prints one line. A task that
fails is reported by the driver (its exception is raised there), so the workers do not log it too.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = [
    "QuietTaskFailures",
    "drop_unclosed_session_notes",
    "quiet_dashboard",
    "quiet_teardown",
    "workers_ignore_sigint",
]


@contextlib.contextmanager
def workers_ignore_sigint() -> Iterator[None]:
    """Ignore SIGINT while the block starts worker processes; they keep ignoring it.

    An ignored signal stays ignored across ``exec``, and Python installs its
    ``KeyboardInterrupt`` handler only where SIGINT is not ignored. The driver's own handler is
    put back when the block ends (a Ctrl-C during the block is lost). Outside the main thread
    (where signals cannot be set) the block does nothing.

    Examples
    --------
    >>> with workers_ignore_sigint():
    ...     signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    True
    >>> signal.getsignal(signal.SIGINT) is signal.default_int_handler
    True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# The dashboard's web server: bokeh sessions, tornado's request handlers.
_DASHBOARD_LOGGERS = ("bokeh", "tornado.application", "tornado.general", "tornado.access")


@contextlib.contextmanager
def quiet_dashboard() -> Iterator[None]:
    """While the block runs, the dashboard's page errors stay out of the run's terminal.

    Switching pages of the Dask dashboard closes bokeh sessions whose last messages then fail
    (``AssertionError`` in bokeh's protocol handler, tornado's "Uncaught exception GET"): each is
    a logged traceback, 137 lines for a few switches, in the terminal of a run that is fine.
    The run's own errors come from ``distributed`` and the driver, which stay as they are.

    Examples
    --------
    >>> with quiet_dashboard():
    ...     logging.getLogger("bokeh").getEffectiveLevel() == logging.CRITICAL
    True
    >>> logging.getLogger("bokeh").level == logging.CRITICAL
    False
    """
    loggers = [logging.getLogger(name) for name in _DASHBOARD_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def quiet_teardown() -> Iterator[None]:
    """When the block fails (or is interrupted), silence Dask's log while the cluster closes.

    The user gets one line about the cause; the warnings of a cluster torn down mid-work
    (cancelled tasks, workers killed) say nothing they can act on.
    """
    try:
        yield
    except BaseException:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        drop_unclosed_session_notes()
        raise


class _DropTaskNoise(logging.Filter):
    """Drop a failed task's report, the notes of tasks cancelled because of it, and heartbeats.

    A heartbeat that cannot reach the scheduler (it is closing after the driver stopped on an
    error) is logged with its traceback before the driver's one line; the worker tries again at
    the next heartbeat, and ends on its own when the scheduler is gone for good.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (
            message.startswith(("Compute Failed", "Failed to communicate with scheduler"))
            or "ended with CancelledError" in message
        )


class _DropUnclosedSessions(logging.Filter):
    """Drop aiohttp's "Unclosed client session/connector" notes of a process that is ending.

    adlfs' sessions are closed by finalizers that need fsspec's event loop; in a worker torn down
    after a storage error (or at the end of a run) that loop may be gone, and asyncio then logs
    the sessions the exiting process never closed: nothing the user can act on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Unclosed client session", "Unclosed connector"))


def drop_unclosed_session_notes() -> None:
    """Add :class:`_DropUnclosedSessions` to this process's ``asyncio`` logger (once)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _DropUnclosedSessions) for f in logger.filters):
        logger.addFilter(_DropUnclosedSessions())


class QuietTaskFailures(WorkerPlugin):
    """A worker plugin: the worker does not log "Compute Failed" with the task's traceback.

    Nor the warnings of the tasks cancelled when the driver stops on that failure, nor its
    heartbeats that fail while the scheduler closes.

    The driver raises the task's exception (and the CLI prints it as one line); every other
    worker message is kept. Register it with ``client.register_plugin(QuietTaskFailures())``.
    """

    name = "vegdask-quiet-task-failures"

    def setup(self, worker: object) -> None:
        """Add the filter to the worker process's ``distributed.worker`` loggers (once)."""
        for name in ("distributed.worker", "distributed.worker.state_machine"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _DropTaskNoise) for f in logger.filters):
                logger.addFilter(_DropTaskNoise())
        drop_unclosed_session_notes()

    def teardown(self, worker: object) -> None:
        """Nothing to undo: the filter goes with the worker process."""
