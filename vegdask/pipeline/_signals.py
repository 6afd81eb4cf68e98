"""Ctrl-C reaches the driver only: local worker processes start with SIGINT ignored.

A terminal sends SIGINT to its whole foreground process group, so without this every local Dask
worker process would print its own ``KeyboardInterrupt`` traceback. The driver catches the
interrupt, closes the cluster (which stops the workers) and prints one line.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

__all__ = ["quiet_teardown", "workers_ignore_sigint"]


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
        raise
