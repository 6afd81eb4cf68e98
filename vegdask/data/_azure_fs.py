"""adlfs' Azure Blob filesystem with vegdask's client (:func:`~vegdask.data._azure.blob_service`).

The class is what vegdask's stores use on ``abfs://`` URLs: the account's endpoint and
``vegdask.storage.retries`` retries, given to the SDK through its public keywords. It pickles to
Dask workers like adlfs'.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from typing import Any

import adlfs

from vegdask.data._azure import CONNECTION_TIMEOUT, blob_service

__all__ = ["AzureBlobFileSystem"]


# adlfs closes its clients in weakref finalizers that need fsspec's event loop; when that loop is
# gone at exit each prints "Loop is not running": fsspec/adlfs#495, open in adlfs 2026.8.0, the
# newest release checked. Up to that release vegdask keeps closing them, quietly; a newer adlfs
# is left as it is (raise this once a newer release is checked and still needs it).
_ADLFS_FINALIZERS_FAIL_UNTIL = (2026, 8, 0)


def _finalizers_fail(adlfs_version: str) -> bool:
    """Whether this adlfs release has fsspec/adlfs#495.

    Examples
    --------
    >>> _finalizers_fail("2024.12.0"), _finalizers_fail("2026.8.0"), _finalizers_fail("2027.1.0")
    (True, True, False)
    """
    release = tuple(int(part) for part in re.findall(r"\d+", adlfs_version)[:3])
    return release <= _ADLFS_FINALIZERS_FAIL_UNTIL


def _quietly(func: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(RuntimeError):
        func(*args, **kwargs)


def _close_quietly(fs: Any) -> None:
    """Replace adlfs' finalizers of ``fs`` by ones that close its clients without the noise."""
    registry = weakref.finalize._registry  # type: ignore[attr-defined] # no public way to them
    for finalizer in list(registry):
        found = finalizer.peek()
        if found is not None and found[0] is fs:
            _, func, args, kwargs = finalizer.detach()
            weakref.finalize(fs, _quietly, func, *args, **kwargs)


class AzureBlobFileSystem(adlfs.AzureBlobFileSystem):
    """adlfs' filesystem whose client is :func:`blob_service`'s (vegdask's retries, endpoint).

    It pickles to Dask workers like adlfs'.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("connection_timeout", CONNECTION_TIMEOUT)
        super().__init__(*args, **kwargs)
        if _finalizers_fail(adlfs.__version__):
            _close_quietly(self)

    def do_connect(self) -> None:
        """Connect with :func:`blob_service`'s asynchronous client and adlfs' own credential."""
        options = {
            "connection_string": self.connection_string,
            "account_name": self.account_name,
            "account_key": self.account_key,
            "account_host": getattr(self, "account_host", None),
            "sas_token": self.sas_token,
            "anon": self.anon and not (self.credential or self.account_key or self.sas_token),
        }
        self.service_client = blob_service(
            "abfs://", options, asynchronous=True, credential=self.credential
        )
