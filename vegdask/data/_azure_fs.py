"""adlfs' Azure Blob filesystem, failing fast when blob storage cannot be reached.

The Azure SDK's default retry policy waits 15 s, then 18 s, then 24 s (plus jitter) before it
gives up: about 90 s for an account that does not answer. :class:`AzureBlobFileSystem` bounds it
to :data:`RETRIES` retries with short back-offs, so unreachable storage fails within 15 s. The
class is what vegdask's stores use on ``abfs://`` URLs; it pickles to Dask workers like adlfs'.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import adlfs

__all__ = ["RETRIES", "AzureBlobFileSystem", "bound_retries"]

#: Retries of one request (connect, read or status) before an error; back-offs ~2 s, ~3 s.
RETRIES = 2
_CONNECTION_TIMEOUT = 5


def bound_retries(client: Any) -> None:
    """Make ``client``'s (a storage ``BlobServiceClient``) retry policy give up within ~10 s.

    The policy object is shared by the client's pipeline, so it is changed in place.
    """
    policy = client._config.retry_policy
    policy.total_retries = policy.connect_retries = RETRIES
    policy.read_retries = policy.status_retries = RETRIES
    policy.initial_backoff, policy.increment_base, policy.random_jitter_range = 0.5, 1.5, 0.5


def _quietly(func: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(RuntimeError):
        func(*args, **kwargs)


class AzureBlobFileSystem(adlfs.AzureBlobFileSystem):
    """adlfs' filesystem whose requests are retried at most :data:`RETRIES` times, briefly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("connection_timeout", _CONNECTION_TIMEOUT)
        super().__init__(*args, **kwargs)
        # adlfs closes its clients in finalizers that need fsspec's event loop; when that loop
        # is gone at exit each prints "Loop is not running" (fsspec/adlfs#495): keep closing
        # them, quietly.
        for finalizer in list(weakref.finalize._registry):
            found = finalizer.peek()
            if found is not None and found[0] is self:
                _, func, args, kwargs = finalizer.detach()
                weakref.finalize(self, _quietly, func, *args, **kwargs)

    def do_connect(self) -> None:
        """Connect as adlfs does, then bound the client's retries."""
        super().do_connect()
        bound_retries(self.service_client)
