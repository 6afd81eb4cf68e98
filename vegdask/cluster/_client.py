"""The Batch client: account settings from arguments, else vegdask.config.get."""

from __future__ import annotations

from typing import Any

from vegdask import config

__all__ = ["batch_client", "send"]


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

    url = config.get("azure.batch-url", batch_url)
    if not url:
        raise ValueError(
            "no Batch account URL: pass batch_url, set vegdask.azure.batch-url or AZURE_BATCH_URL"
        )
    key = config.get("azure.account-key", account_key)
    if key:
        from azure.core.credentials import AzureNamedKeyCredential

        name = config.get("azure.account-name", account_name)
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
