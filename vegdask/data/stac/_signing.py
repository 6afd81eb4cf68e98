"""Signing asset and catalogue URLs: SAS tokens, Planetary Computer, config strings."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from vegdask.data._azure import retry_keywords

__all__ = [
    "SasSigner",
    "azure_sas_signer",
    "catalogue_signer",
    "container_prefix",
    "resolve_signer",
    "sas_signer",
]


class SasSigner:
    """Append an Azure SAS token to blob URLs: a picklable ``sign`` for :func:`stac_scene`.

    Only ``http(s)`` URLs that start with ``prefix`` (all of them if ``prefix`` is None) and carry
    no query string yet are signed; anything else is returned unchanged, so the token is never sent
    to another host. The token is kept out of ``repr``.

    Examples
    --------
    >>> sign = SasSigner("?sv=2025-01-05&sp=r&sig=abc", prefix="https://acct.blob.core.windows.net/c/")
    >>> sign("https://acct.blob.core.windows.net/c/x.tif")
    'https://acct.blob.core.windows.net/c/x.tif?sv=2025-01-05&sp=r&sig=abc'
    >>> sign("https://elsewhere.example/x.tif")
    'https://elsewhere.example/x.tif'
    >>> sign
    SasSigner(prefix='https://acct.blob.core.windows.net/c/', token=<redacted>)
    """

    def __init__(self, token: str, *, prefix: str | None = None) -> None:
        token = str(token).lstrip("?")
        if not token:
            raise ValueError("the SAS token is empty")
        self._token = token
        self.prefix = prefix

    def __call__(self, href: str) -> str:
        if not href.startswith(("http://", "https://")) or "?" in href:
            return href
        if self.prefix is not None and not href.startswith(self.prefix):
            return href
        return f"{href}?{self._token}"

    def __repr__(self) -> str:
        return f"SasSigner(prefix={self.prefix!r}, token=<redacted>)"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SasSigner)
            and other._token == self._token
            and other.prefix == self.prefix
        )

    def __hash__(self) -> int:
        return hash((SasSigner, self._token, self.prefix))


def sas_signer(token: str, *, prefix: str | None = None) -> SasSigner:
    """A ``sign`` function that appends an existing SAS token (e.g. from your vault) to URLs.

    Parameters
    ----------
    token : str
        The SAS query string, with or without the leading ``?``. Prefer read-only, short-lived.
    prefix : str, optional
        Sign only URLs starting with it, e.g. ``"https://acct.blob.core.windows.net/imagery/"``.

    Examples
    --------
    >>> sign = sas_signer("sp=r&sig=abc")
    >>> sign("https://acct.blob.core.windows.net/imagery/a.tif")
    'https://acct.blob.core.windows.net/imagery/a.tif?sp=r&sig=abc'
    """
    return SasSigner(token, prefix=prefix)


def azure_sas_signer(
    account_url: str,
    container: str,
    *,
    credential: Any,
    account_name: str | None = None,
    expiry: timedelta = timedelta(hours=1),
) -> SasSigner:
    """A ``sign`` function with a new read-only container SAS (azure-storage-blob).

    Parameters
    ----------
    account_url : str
        The blob service URL, ``https://<account>.blob.core.windows.net`` (or Azurite's
        ``http://127.0.0.1:10000/devstoreaccount1``).
    container : str
        The container holding the COGs (and perhaps the static catalogue).
    credential : str, UserDelegationKey or TokenCredential
        The account key, a user delegation key, or an azure-identity credential (a user
        delegation key valid for ``expiry`` is then requested with it).
    account_name : str, optional
        Taken from ``account_url`` by default.
    expiry : timedelta, default 1 hour
        Lifetime of the token (read permission only).

    Returns
    -------
    SasSigner
        Signs URLs under ``<account_url>/<container>/`` only.
    """
    try:
        from azure.storage.blob import (
            BlobServiceClient,
            ContainerSasPermissions,
            UserDelegationKey,
            generate_container_sas,
        )
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "azure_sas_signer needs azure-storage-blob: pip install vegdask[azure]"
        ) from err
    account_url = account_url.rstrip("/")
    if account_name is None:
        parts = urllib.parse.urlsplit(account_url)
        host_account = (parts.hostname or "").split(".")[0]
        path_account = parts.path.strip("/").split("/")[0]
        account_name = path_account or host_account
    if not account_name:
        raise ValueError(f"cannot tell the storage account of {account_url!r}; pass account_name=")
    start = datetime.now(UTC) - timedelta(minutes=5)  # tolerate clock skew
    end = datetime.now(UTC) + expiry
    key_kwargs: dict[str, Any]
    if isinstance(credential, str):
        key_kwargs = {"account_key": credential}
    elif isinstance(credential, UserDelegationKey):
        key_kwargs = {"user_delegation_key": credential}
    elif hasattr(credential, "get_token"):
        # vegdask's one retry policy (vegdask.storage.retries), as blob_service gives it
        service = BlobServiceClient(account_url, credential=credential, **retry_keywords())
        key_kwargs = {"user_delegation_key": service.get_user_delegation_key(start, end)}
    else:
        raise ValueError(
            "credential must be an account key (str), a UserDelegationKey or an azure-identity "
            f"credential, got {type(credential).__name__}"
        )
    token = generate_container_sas(
        account_name,
        container,
        permission=ContainerSasPermissions(read=True),
        start=start,
        expiry=end,
        **key_kwargs,
    )
    return SasSigner(token, prefix=f"{account_url}/{container}/")


def resolve_signer(
    sign: Callable[[str], str] | str | None, *, environ: Mapping[str, str] | None = None
) -> Callable[[str], str] | None:
    """A ``sign`` function from a callable or a config string (a job config holds no callables).

    Parameters
    ----------
    sign : callable, str or None
        A callable is returned as is. Strings: ``"none"`` (or empty), ``"planetary-computer"``
        (``planetary_computer.sign``; needs ``pip install planetary-computer``), or
        ``"sas:<ENV_VAR>"``: the SAS token in that environment variable (never in the config).
    environ : mapping, optional
        Where ``sas:`` looks; ``os.environ`` by default.

    Examples
    --------
    >>> sign = resolve_signer("sas:MY_SAS", environ={"MY_SAS": "sp=r&sig=abc"})
    >>> sign("https://acct.blob.core.windows.net/c/x.tif")
    'https://acct.blob.core.windows.net/c/x.tif?sp=r&sig=abc'
    >>> resolve_signer("none") is None
    True
    """
    if sign is None or callable(sign):
        return sign
    spec = str(sign).strip()
    if spec.lower() in ("", "none"):
        return None
    if spec == "planetary-computer":
        try:
            import planetary_computer
        except ImportError as err:
            raise ImportError(
                "sign='planetary-computer' needs the planetary-computer package: "
                "pip install planetary-computer"
            ) from err
        return planetary_computer.sign
    if spec.startswith("sas:"):
        name = spec[4:]
        token = (os.environ if environ is None else environ).get(name, "")
        if not token:
            raise ValueError(f"sign={spec!r}: the environment variable {name!r} holds no SAS token")
        return SasSigner(token)
    raise ValueError(
        f"sign {spec!r} is not known; use 'none', 'planetary-computer' or 'sas:<ENV_VAR>' "
        "(or pass a callable)"
    )


def container_prefix(url: str) -> str:
    """The ``scheme://host/container/`` prefix of a blob URL.

    An emulator such as Azurite has the account in the path: ``scheme://host/account/container/``.

    Examples
    --------
    >>> container_prefix("https://acct.blob.core.windows.net/imagery/stac/catalog.json?sig=x")
    'https://acct.blob.core.windows.net/imagery/'
    >>> container_prefix("http://127.0.0.1:10000/devstoreaccount1/imagery/catalog.json")
    'http://127.0.0.1:10000/devstoreaccount1/imagery/'
    """
    parts = urllib.parse.urlsplit(url)
    segments = [s for s in parts.path.split("/") if s][:-1]  # the folders above the file
    depth = 1 if (parts.hostname or "").endswith(".blob.core.windows.net") else 2
    return f"{parts.scheme}://{parts.netloc}/{'/'.join(segments[:depth])}/"


def catalogue_signer(catalog: str) -> SasSigner | None:
    """A signer from the SAS query string of an ``http(s)`` catalogue URL, for its container.

    Examples
    --------
    >>> catalogue_signer("https://acct.blob.core.windows.net/c/stac/catalog.json?sp=r&sig=x")
    SasSigner(prefix='https://acct.blob.core.windows.net/c/', token=<redacted>)
    >>> catalogue_signer("https://planetarycomputer.microsoft.com/api/stac/v1") is None
    True
    """
    if not catalog.startswith(("http://", "https://")):
        return None
    query = urllib.parse.urlsplit(catalog).query
    return SasSigner(query, prefix=container_prefix(catalog)) if query else None
