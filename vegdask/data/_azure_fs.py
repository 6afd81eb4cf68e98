"""adlfs' Azure Blob filesystem with vegdask's client (:func:`~vegdask.data._azure.blob_service`).

The class is what vegdask's stores use on ``abfs://`` URLs: the account's endpoint and
``vegdask.storage.retries`` retries, given to the SDK through its public keywords. It pickles to
Dask workers like adlfs'.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import adlfs

from vegdask.data._azure import CONNECTION_TIMEOUT, blob_service

__all__ = ["AzureBlobFileSystem"]


def _quietly(func: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(RuntimeError):
        func(*args, **kwargs)


class AzureBlobFileSystem(adlfs.AzureBlobFileSystem):
    """adlfs' filesystem whose client is :func:`blob_service`'s (vegdask's retries, endpoint).

    It pickles to Dask workers like adlfs'.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("connection_timeout", CONNECTION_TIMEOUT)
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
