"""Files handed to Batch nodes through blob storage, as short-lived read-only SAS URLs.

Batch fetches a task's ``resourceFiles`` itself before the command line runs, so what a task
needs (a wheel, a job config, a TLS key, credentials) never appears in its command line or
environment settings, which the Batch API shows to anyone with access to the account. Only the
URL of the blob is shown, with a read-only SAS that expires.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from vegdask import config
from vegdask.data.storage import blob_service, storage_options

__all__ = ["BlobDrop", "sas_connection_string", "storage_connection_string"]


def storage_connection_string(value: str | None = None) -> str:
    """``value``, else the storage connection string of the settings (as the outputs' use).

    The credential resolver is the outputs' (:func:`~vegdask.data.storage.storage_options`):
    ``vegdask.azure.storage-connection-string``, else ``AZURE_STORAGE_CONNECTION_STRING``.

    Raises
    ------
    ValueError
        If none is set.
    """
    conn = storage_options("abfs://", connection_string=value or None).get("connection_string")
    if not conn:
        raise ValueError(
            "handing files to Batch nodes needs blob storage: pass storage_connection_string, set "
            "vegdask.azure.storage-connection-string or AZURE_STORAGE_CONNECTION_STRING"
        )
    return conn


def _service(connection_string: str) -> Any:
    service = blob_service("abfs://", {"connection_string": connection_string})
    if not getattr(service.credential, "account_key", None):
        raise ValueError(
            "signing SAS URLs needs a storage connection string with an AccountKey (not a SAS)"
        )
    return service


def _expiry(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)


class BlobDrop:
    """Blobs under ``container/prefix`` that Batch nodes fetch through read-only SAS URLs.

    Parameters
    ----------
    connection_string
        A storage connection string with the account key (it signs the SAS URLs).
    container
        The container (created if missing).
    prefix
        Folder of these blobs inside the container (``""`` for the container's root).
    """

    def __init__(self, connection_string: str, container: str, prefix: str = "") -> None:
        from azure.core.exceptions import ResourceExistsError

        self.service = _service(connection_string)
        self.container = container
        self.prefix = prefix.strip("/")
        self.names: list[str] = []
        with contextlib.suppress(ResourceExistsError):
            self.service.create_container(container)

    def _blob(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, data: bytes | Any) -> None:
        """Upload ``data`` (bytes or a binary file object) as ``name``, replacing any blob."""
        self.service.get_blob_client(self.container, self._blob(name)).upload_blob(
            data, overwrite=True
        )
        self.names.append(name)

    def url(self, name: str, hours: float | None = None) -> str:
        """A read-only SAS URL of ``name`` expiring in ``hours`` (signed locally, no request).

        ``hours`` None: the setting ``vegdask.azure.sas-hours``.
        """
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob = self.service.get_blob_client(self.container, self._blob(name))
        sas = generate_blob_sas(
            account_name=self.service.account_name,
            container_name=self.container,
            blob_name=self._blob(name),
            account_key=self.service.credential.account_key,
            permission=BlobSasPermissions(read=True),
            expiry=_expiry(config.get("azure.sas-hours", hours)),
        )
        return f"{blob.url}?{sas}"

    def resource_files(
        self, paths: dict[str, str], hours: float | None = None
    ) -> list[dict[str, str]]:
        """Batch ``resourceFiles`` fetching blob ``name`` to ``filePath`` for each of ``paths``.

        Their SAS URLs expire in ``hours`` (None: the setting ``vegdask.azure.sas-hours``).
        """
        return [{"httpUrl": self.url(n, hours), "filePath": path} for n, path in paths.items()]

    def delete(self) -> None:
        """Delete every blob this drop uploaded (missing ones are ignored)."""
        from azure.core.exceptions import ResourceNotFoundError

        for name in self.names:
            with contextlib.suppress(ResourceNotFoundError):
                self.service.get_blob_client(self.container, self._blob(name)).delete_blob()
        self.names.clear()


def sas_connection_string(connection_string: str, hours: float) -> str:
    """A connection string for blobs only, backed by an account SAS expiring in ``hours``.

    The SAS can read, write, list and delete blobs and containers of the blob service (what a
    run writing its outputs needs), but not manage the account, its keys, queues, tables or
    file shares. Never log the result: it is a credential.
    """
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    service = _service(connection_string)
    sas = generate_account_sas(
        service.account_name,
        service.credential.account_key,
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
        expiry=_expiry(hours),
    )
    endpoint = service.url.rstrip("/")
    return f"BlobEndpoint={endpoint};SharedAccessSignature={sas}"
