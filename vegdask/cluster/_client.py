"""The Batch client and settings: argument, then dask config, then the environment."""

from __future__ import annotations

import os
from typing import Any

import dask.config

__all__ = ["batch_client", "send", "setting"]


def setting(key: str, value: Any, env: str | None = None) -> Any:
    """``value``, else ``vegdask.azure.<key>`` from dask.config, else the environment variable."""
    if value is not None:
        return value
    found = dask.config.get(f"vegdask.azure.{key}", default=None)
    if found is not None:
        return found
    return os.environ.get(env) if env else None


def batch_client(
    batch_url: str | None = None, account_name: str | None = None, account_key: str | None = None
) -> Any:
    """An ``azure.batch.BatchClient`` from arguments, then dask.config, then the environment.

    Settings ``vegdask.azure.batch-url|account-name|account-key``, then ``AZURE_BATCH_URL``,
    ``AZURE_BATCH_ACCOUNT``, ``AZURE_BATCH_KEY``; with no key, an Entra ID credential.

    Examples
    --------
    >>> batch_client("http://127.0.0.1:1", "acct", "a2V5").__class__.__name__
    'BatchClient'
    """
    from azure.batch import BatchClient

    url = setting("batch-url", batch_url, "AZURE_BATCH_URL")
    if not url:
        raise ValueError(
            "no Batch account URL: pass batch_url, set vegdask.azure.batch-url or AZURE_BATCH_URL"
        )
    key = setting("account-key", account_key, "AZURE_BATCH_KEY")
    if key:
        from azure.core.credentials import AzureNamedKeyCredential

        name = setting("account-name", account_name, "AZURE_BATCH_ACCOUNT")
        if not name:
            raise ValueError(
                "an account key needs an account name: pass account_name, set "
                "vegdask.azure.account-name or AZURE_BATCH_ACCOUNT"
            )
        return BatchClient(url, AzureNamedKeyCredential(name, key))
    from azure.identity import DefaultAzureCredential

    return BatchClient(url, DefaultAzureCredential())


def send(begin_operation: Any, *args: Any) -> None:
    """Start a Batch long-running operation without waiting for it.

    The request goes out before the SDK's poller starts its thread; at interpreter exit (Python
    3.12+) that thread cannot start, which must not stop the rest of the cleanup.
    """
    try:
        begin_operation(*args)
    except RuntimeError as err:
        if "interpreter shutdown" not in str(err):
            raise
