"""Azure Blob Storage clients, built in one place: account, endpoint, credential and retries.

Every client of vegdask's (the Zarr stores' adlfs filesystem, the output lock's lease, the files
handed to Batch nodes) comes from :func:`blob_service`, so they share one credential resolver
(:func:`storage_options`), the endpoint the account's settings name (a
connection string's ``BlobEndpoint`` or ``EndpointSuffix``: Azurite and sovereign clouds) and
one retry policy, given to the SDK through its public keywords.

Retries: the SDK's default policy waits 15 s, then 18 s, then 24 s (plus jitter) before it gives
up, about 90 s for an account that does not answer. vegdask retries a request
``vegdask.storage.retries`` times (2 by default: unreachable storage fails within 15 s on the
command line) after short back-offs (~0.5 s, ~2 s, ~2.75 s, ~3.9 s, ...); raise it where storage
throttles (HTTP 503) rather than fails.
"""

from __future__ import annotations

import importlib
from typing import Any

from vegdask import config as settings

__all__ = [
    "CONNECTION_TIMEOUT",
    "account_url",
    "blob_service",
    "is_azure",
    "retry_keywords",
    "storage_answer",
    "storage_options",
]

_AZURE_SCHEMES = ("abfs://", "abfss://", "az://")


def is_azure(url: str) -> bool:
    """Whether ``url`` names Azure Blob Storage (``abfs://``, ``abfss://`` or ``az://``)."""
    return str(url).startswith(_AZURE_SCHEMES)


CONNECTION_TIMEOUT = 5


def storage_answer(err: BaseException) -> str:
    """What blob storage answered, in one line, from the storage SDK's ``HttpResponseError``.

    Its status, error code and the first line of its message (the rest are request ids, times and
    the XML body again).

    Examples
    --------
    >>> from azure.core.exceptions import HttpResponseError
    >>> from azure.storage.blob import StorageErrorCode
    >>> error = HttpResponseError("The specified resource does not exist." + chr(10) + "Time:0")
    >>> error.status_code, error.error_code = 404, StorageErrorCode.RESOURCE_NOT_FOUND
    >>> storage_answer(error)
    'HTTP 404 ResourceNotFound: The specified resource does not exist.'
    """
    code = getattr(err, "error_code", None)
    code = getattr(code, "value", code)  # the storage SDK's enum: its text
    status = getattr(err, "status_code", None)
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    answer = " ".join(str(part) for part in ("HTTP", status, code) if part is not None)
    return f"{answer}: {lines[0] if lines else 'no message'}"


def retry_keywords(retries: int | None = None) -> dict[str, Any]:
    """The storage SDK's public retry keywords: ``retries`` (default the setting) each, briefly.

    Examples
    --------
    >>> retry_keywords(3)["retry_total"], retry_keywords(3)["retry_status"]
    (3, 3)
    """
    retries = settings.get("storage.retries", retries)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(
            f"vegdask.storage.retries is {retries!r}; it must be a whole number, 0 or more"
        )
    return {
        "retry_total": retries,
        "retry_connect": retries,
        "retry_read": retries,
        "retry_status": retries,
        "initial_backoff": 0.5,
        "increment_base": 1.5,
        "random_jitter_range": 0.5,
    }


def storage_options(
    url: str,
    *,
    connection_string: str | None = None,
    account_name: str | None = None,
    account_key: str | None = None,
) -> dict[str, Any]:
    """The fsspec options for ``url``: explicit credentials, else the settings.

    The settings (:func:`vegdask.config.get`) are ``vegdask.azure.storage-connection-string``,
    ``storage-account-name`` and ``storage-account-key`` in dask config, else the environment's
    ``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_ACCOUNT_NAME`` and ``..._KEY``.

    Never log the result: it holds secrets.
    """
    if not is_azure(url):
        return {}
    options: dict[str, Any] = {"use_listings_cache": False, "skip_instance_cache": True}
    connection_string = settings.get("azure.storage-connection-string", connection_string)
    account_name = settings.get("azure.storage-account-name", account_name)
    account_key = settings.get("azure.storage-account-key", account_key)
    if connection_string:
        options["connection_string"] = connection_string
    elif account_name:
        options["account_name"] = account_name
        if account_key:
            options["account_key"] = account_key
        else:
            options["anon"] = False  # adlfs then uses DefaultAzureCredential
    return options


def account_url(options: dict[str, Any]) -> str:
    """The blob endpoint of an account named without a connection string (adlfs' rule).

    A connection string names its own endpoint; see :func:`blob_service`.
    """
    host = options.get("account_host") or f"{options['account_name']}.blob.core.windows.net"
    return f"https://{host}"


def blob_service(
    url: str,
    options: dict[str, Any] | None = None,
    *,
    asynchronous: bool = False,
    credential: Any = None,
    retries: int | None = None,
) -> Any:
    """A ``BlobServiceClient`` of the account that holds ``url``, retrying as the setting says.

    Parameters
    ----------
    url : str
        An ``abfs://container/prefix`` URL (only its credentials matter).
    options : dict, optional
        Its storage options (:func:`~vegdask.data.storage.storage_options`, the default):
        ``connection_string``, or ``account_name`` with ``account_key`` or ``sas_token`` (or
        neither: Entra ID through ``DefaultAzureCredential``; ``anon``: a public container).
    asynchronous : bool
        The ``aio`` client (adlfs' filesystem uses it).
    credential : optional
        A credential object to use with ``account_name`` instead of the default one.
    retries : int, optional
        Retries of each request; default ``vegdask.storage.retries``.

    Returns
    -------
    azure.storage.blob.BlobServiceClient or azure.storage.blob.aio.BlobServiceClient

    Raises
    ------
    ValueError
        If ``options`` name no account.
    """
    if options is None:
        options = storage_options(url)
    # the SDK's synchronous or asynchronous (azure.storage.blob.aio) client, alike in use
    blob = importlib.import_module("azure.storage.blob" + (".aio" if asynchronous else ""))
    BlobServiceClient = blob.BlobServiceClient
    keywords = {**retry_keywords(retries), "connection_timeout": CONNECTION_TIMEOUT}
    if options.get("connection_string"):
        return BlobServiceClient.from_connection_string(options["connection_string"], **keywords)
    if not options.get("account_name"):
        raise ValueError(
            f"no storage account for {url}: set AZURE_STORAGE_CONNECTION_STRING, or "
            "AZURE_STORAGE_ACCOUNT_NAME (with AZURE_STORAGE_ACCOUNT_KEY or an Entra ID login)"
        )
    if options.get("anon"):  # a public container
        return BlobServiceClient(account_url(options), **keywords)
    credential = (
        credential
        or options.get("account_key")
        or options.get("sas_token")
        or _default_credential(asynchronous)
    )
    return BlobServiceClient(account_url(options), credential, **keywords)


def _default_credential(asynchronous: bool) -> Any:
    identity = importlib.import_module("azure.identity" + (".aio" if asynchronous else ""))
    return identity.DefaultAzureCredential()
