"""The STAC source: Sentinel-2 L2A COGs from a STAC catalogue, composited per period.

The catalogue is either a STAC API (searched with pystac-client; Microsoft Planetary Computer's
``https://planetarycomputer.microsoft.com/api/stac/v1`` is the main target) or a static catalogue
(the URL or path of a ``catalog.json``/``collection.json``, walked with pystac and filtered by
bounding box and date here). Items are loaded with :func:`odc.stac.load` onto exactly the grid of
:func:`vegdask.data.scene_grid` and reduced to one median composite of the clear observations per
period.

Band mapping (Sentinel-2 L2A, asset keys of Planetary Computer / Element84 Earth Search):

============  ==================  =======================================
Scene band    Planetary Computer  Earth Search (Element84)
============  ==================  =======================================
``red``       ``B04``             ``red``
``green``     ``B03``             ``green``
``blue``      ``B02``             ``blue``
``nir``       ``B08``             ``nir``
cloud mask    ``SCL``             ``scl``
============  ==================  =======================================

Cloud mask: a pixel of one acquisition is *clear* when its Scene Classification (SCL) class is
2 (dark area), 4 (vegetation), 5 (bare soil), 6 (water) or 7 (unclassified) and no band is 0 (no
data). Classes 0 (no data), 1 (saturated or defective), 3 (cloud shadow), 8 and 9 (cloud, medium
and high probability), 10 (thin cirrus) and 11 (snow or ice) are unusable. A Scene pixel's
``cloud_mask`` is True where no acquisition of its period is clear; its bands are then NaN.

Reflectance is ``DN * 0.0001 + offset`` per acquisition, where ``offset`` is (first rule that
applies):

1. ``0`` if the item says the offset was already applied (``earthsearch:boa_offset_applied``);
2. ``-0.1`` if ``s2:processing_baseline >= 04.00`` (ESA's ``BOA_ADD_OFFSET`` of -1000 DN, from
   25 January 2022 and in reprocessed data), ``0`` for older baselines;
3. the asset's ``raster:bands`` ``offset`` if it has one;
4. ``-0.1`` if acquired on or after 2022-01-25, else ``0``.

Assets are signed when they are read (on the worker, so short-lived tokens stay fresh), never
when the graph is built: pass ``sign=planetary_computer.sign`` for Planetary Computer, or
:func:`sas_signer` / :func:`azure_sas_signer` for a private Azure container. Tokens are never
logged, put in errors, or stored in the Scene's attributes.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from vegdask.data._periods import make_periods
from vegdask.data._scene import (
    BANDS,
    CLOUD_MASK,
    check_region,
    compute_ndvi,
    default_chunks,
    period_coords,
    scene_grid,
)

__all__ = [
    "CLEAR_SCL_CLASSES",
    "COLLECTIONS",
    "UNUSABLE_SCL_CLASSES",
    "SasSigner",
    "azure_sas_signer",
    "reflectance_offset",
    "resolve_signer",
    "sas_signer",
    "stac_scene",
]

_INSTALL_HINT = (
    "the STAC source needs odc-stac, pystac and pystac-client: pip install vegdask[stac]"
)
# Scene Classification Layer classes (Sentinel-2 L2A).
UNUSABLE_SCL_CLASSES: tuple[int, ...] = (0, 1, 3, 8, 9, 10, 11)
CLEAR_SCL_CLASSES: tuple[int, ...] = (2, 4, 5, 6, 7)
_BASELINE_WITH_OFFSET = 4.0
_OFFSET_START = datetime(2022, 1, 25)


@dataclass(frozen=True)
class _Collection:
    """How to read one collection: asset keys per band (first present wins), scale, offset."""

    assets: Mapping[str, tuple[str, ...]]
    scale: float
    offset: float  # the offset of processing baselines >= 04.00


_SENTINEL2_L2A = _Collection(
    assets={
        "red": ("B04", "red"),
        "green": ("B03", "green"),
        "blue": ("B02", "blue"),
        "nir": ("B08", "nir"),
        "scl": ("SCL", "scl"),
    },
    scale=0.0001,
    offset=-0.1,
)
COLLECTIONS: dict[str, _Collection] = {"sentinel-2-l2a": _SENTINEL2_L2A}
_ASSET_ROLES: tuple[str, ...] = (*BANDS, "scl")

_URL_QUERY = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'\"]*)\?[^\s'\"]*")
# A query string holding a signature, also after a partial URL (GDAL shortens URLs in messages).
_SIGNED_QUERY = re.compile(r"\?[^\s'\"]*\bsig=[^\s'\"]*", re.IGNORECASE)
_SIGNATURE = re.compile(r"\bsig=[^&\s'\"]+", re.IGNORECASE)


def _redact(text: str) -> str:
    """Remove query strings (SAS tokens) from every URL in ``text``.

    Examples
    --------
    >>> _redact("cannot open https://a.blob.core.windows.net/c/x.tif?sv=1&sig=abc (403)")
    'cannot open https://a.blob.core.windows.net/c/x.tif (403)'
    >>> _redact("msg='x.tif?st=2026&sig=abc%3D band 1: read failed'")
    "msg='x.tif band 1: read failed'"
    """
    text = _SIGNED_QUERY.sub("", _URL_QUERY.sub(r"\1", str(text)))
    return _SIGNATURE.sub("sig=<redacted>", text)


def _strip_query(url: str) -> str:
    """``url`` without its query string and fragment.

    Examples
    --------
    >>> _strip_query("http://host/acct/c/catalog.json?sv=2024&sig=secret")
    'http://host/acct/c/catalog.json'
    """
    parts = urllib.parse.urlsplit(str(url))
    if not parts.scheme or len(parts.scheme) == 1:  # a local path (or a Windows drive letter)
        return str(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


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
        service = BlobServiceClient(account_url, credential=credential)
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
        return planetary_computer.sign  # type: ignore[no-any-return]
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


def _import_stac() -> tuple[Any, Any]:
    try:
        import odc.stac
        import pystac
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return odc.stac, pystac


# --- the catalogue ----------------------------------------------------------------------------


def _is_url(href: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", href))


def _local_path(href: str) -> str:
    if href.startswith("file://"):
        return urllib.request.url2pathname(urllib.parse.urlsplit(href).path)
    return href


def _read_text(href: str, sign: Callable[[str], str] | None, timeout: float) -> str:
    """Read a catalogue file; errors name the href without its query string (never the token)."""
    if not _is_url(href) or href.startswith("file://"):
        try:
            return Path(_local_path(href)).read_text(encoding="utf-8")
        except OSError as err:
            raise ValueError(
                f"cannot read the STAC catalogue file {href}: {err.strerror}"
            ) from None
    url = sign(href) if sign is not None else href
    request = urllib.request.Request(url, headers={"User-Agent": "vegdask"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code} {err.reason}"
        if err.code in (401, 403, 404):
            reason += " (if the container is private, pass sign=, e.g. vegdask.data.sas_signer)"
        raise ValueError(
            f"cannot read the STAC catalogue file {_strip_query(href)}: {reason}"
        ) from None
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "reason", err)
        raise ValueError(
            f"cannot read the STAC catalogue file {_strip_query(href)}: {_redact(str(reason))}"
        ) from None


def _static_items(catalog: str, sign: Callable[[str], str] | None, timeout: float) -> list[Any]:
    """Every item of a static catalogue, collection, item collection or item."""
    _, pystac = _import_stac()
    from pystac.stac_io import DefaultStacIO

    class _SigningStacIO(DefaultStacIO):  # reads with the signer, logs no URL
        def read_text_from_href(self, href: str) -> str:
            return _read_text(href, sign, timeout)

    io = _SigningStacIO()
    href = _local_path(catalog) if catalog.startswith("file://") else _strip_query(catalog)
    try:
        obj = pystac.read_dict(io.read_json(href), href=href, stac_io=io)
    except ValueError as err:
        if "cannot read the STAC catalogue" in str(err):
            raise
        raise ValueError(
            f"{_strip_query(catalog)} is not a STAC catalogue: {_redact(str(err))}"
        ) from None
    except (pystac.STACError, KeyError, TypeError) as err:
        raise ValueError(
            f"{_strip_query(catalog)} is not a STAC catalogue: {_redact(str(err))}"
        ) from None
    if isinstance(obj, pystac.Item):
        return [obj]
    if isinstance(obj, pystac.ItemCollection):
        return list(obj)
    return list(obj.get_items(recursive=True))


def _api_items(
    catalog: str,
    collection: str,
    bbox: tuple[float, float, float, float],
    interval: tuple[datetime, datetime],
    max_cloud: float | None,
    timeout: float,
) -> list[Any]:
    try:
        import pystac_client
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    where = _strip_query(catalog)
    try:
        client = pystac_client.Client.open(catalog, timeout=timeout)
        query = {"eo:cloud_cover": {"lte": max_cloud}} if max_cloud is not None else None
        search = client.search(
            collections=[collection],
            bbox=bbox,
            datetime=[interval[0].isoformat() + "Z", interval[1].isoformat() + "Z"],
            query=query,
        )
        return list(search.items())
    except Exception as err:  # pystac-client raises APIError, requests errors, JSON errors ...
        raise ValueError(
            f"cannot search the STAC API {where}: {type(err).__name__}: {_redact(str(err))[:300]}; "
            "give a STAC API URL or the URL/path of a static catalog.json"
        ) from None


def _is_static(catalog: str) -> bool:
    path = urllib.parse.urlsplit(catalog).path if _is_url(catalog) else catalog
    return not _is_url(catalog) or catalog.startswith("file://") or path.endswith(".json")


def _item_time(item: Any) -> datetime | None:
    value = item.datetime or item.common_metadata.start_datetime
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _cloud_cover(item: Any) -> float | None:
    value = item.properties.get("eo:cloud_cover")
    return None if value is None else float(value)


# --- the reflectance offset -----------------------------------------------------------------


def reflectance_offset(
    item: Any, asset: str | None = None, collection: str = "sentinel-2-l2a"
) -> float:
    """The offset added to ``DN * scale`` for one item (see the module docs for the rule).

    Parameters
    ----------
    item : pystac.Item
        The item; its properties and (for rule 3) the asset's ``raster:bands`` are used.
    asset : str, optional
        The asset key whose ``raster:bands`` offset rule 3 may use.
    collection : str
        The collection (its offset for processing baselines >= 04.00).

    Examples
    --------
    >>> import pystac, datetime
    >>> def item(when, **props):
    ...     return pystac.Item("a", None, None, datetime.datetime.fromisoformat(when), props)
    >>> reflectance_offset(item("2022-06-01", **{"s2:processing_baseline": "04.00"}))
    -0.1
    >>> reflectance_offset(item("2022-06-01", **{"s2:processing_baseline": "03.01"}))
    0.0
    >>> reflectance_offset(item("2021-06-01")), reflectance_offset(item("2022-06-01"))
    (0.0, -0.1)
    """
    spec = _collection_spec(collection)
    props = item.properties
    if props.get("earthsearch:boa_offset_applied") is True:
        return 0.0
    baseline = props.get("s2:processing_baseline")
    if baseline is not None:
        try:
            return spec.offset if float(baseline) >= _BASELINE_WITH_OFFSET else 0.0
        except ValueError:
            pass  # an unparsable baseline: fall through to the next rules
    if asset is not None and asset in item.assets:
        bands = item.assets[asset].extra_fields.get("raster:bands") or []
        if bands and "offset" in bands[0]:
            return float(bands[0]["offset"])
    when = _item_time(item)
    return spec.offset if when is not None and when >= _OFFSET_START else 0.0


# --- reading ----------------------------------------------------------------------------------


class _SigningReader:
    """Read one band with odc-loader's rasterio reader, signing the href first.

    Errors become a ValueError naming the href without its query string.
    """

    def __init__(self, src: Any, ctx: Any, sign: Callable[[str], str] | None) -> None:
        self._src = src
        self._ctx = ctx
        self._sign = sign

    def read(self, cfg: Any, dst_geobox: Any, **kwargs: Any) -> Any:
        import rasterio
        from odc.loader import RioReader

        href = self._src.uri
        src = self._src.patch(uri=self._sign(href)) if self._sign is not None else self._src
        _quiet_loggers()
        try:
            with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
                return RioReader(src, self._ctx).read(cfg, dst_geobox, **kwargs)
        except (rasterio.errors.RasterioError, OSError) as err:
            message = _redact(_messages(err))
            hint = ""
            if re.search(r"\b40[134]\b", message):
                hint = " (if the container is private, pass sign=, e.g. vegdask.data.sas_signer)"
            raise ValueError(
                f"cannot read the STAC asset {_strip_query(href)}: {message}{hint}; "
                "it may be missing, not a (Cloud-Optimised) GeoTIFF, truncated or corrupt"
            ) from None


class _SigningDriver:
    """An odc-loader reader driver: odc's rasterio driver with :class:`_SigningReader` readers.

    A module-level class (not a subclass made at run time) so that graphs pickle for
    distributed workers; odc-loader is imported only when it is used.
    """

    def __init__(self, sign: Callable[[str], str] | None) -> None:
        from odc.loader import RioDriver

        self._rio = RioDriver()
        self._sign = sign

    def new_load(self, geobox: Any, *, chunks: Any = None) -> Any:
        return self._rio.new_load(geobox, chunks=chunks)

    def finalise_load(self, load_state: Any) -> Any:
        return self._rio.finalise_load(load_state)

    def capture_env(self) -> dict[str, Any]:
        return self._rio.capture_env()

    def restore_env(self, env: dict[str, Any], load_state: Any) -> Any:
        return self._rio.restore_env(env, load_state)

    def open(self, src: Any, ctx: Any) -> _SigningReader:
        return _SigningReader(src, ctx, self._sign)

    @property
    def md_parser(self) -> Any:
        return None  # odc-stac then parses STAC metadata itself

    @property
    def dask_reader(self) -> Any:
        return None

    @property
    def aux_reader(self) -> Any:
        return None


def _messages(err: BaseException) -> str:
    """The messages of an exception and its causes (rasterio hides GDAL's reason in a cause)."""
    seen: list[str] = []
    current: BaseException | None = err
    while current is not None and len(seen) < 5:
        text = str(current).strip()
        if text and text not in seen:
            seen.append(text)
        current = current.__cause__ or current.__context__
    return " <- ".join(seen)


class _RedactingFilter(logging.Filter):
    """Redact URLs' query strings (tokens) in log records of the reading libraries."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_LOGGER_PREFIXES = ("rasterio", "odc", "pystac", "urllib3")
_filtered_loggers: set[str] = set()


def _quiet_loggers() -> None:
    """Attach the redacting filter (once) to every logger that may print a signed URL.

    Filters do not apply to child loggers, so every existing ``rasterio.*``, ``odc.*``,
    ``pystac*`` and ``urllib3.*`` logger gets its own.
    """
    for name in list(logging.root.manager.loggerDict):
        if name in _filtered_loggers or not name.startswith(_LOGGER_PREFIXES):
            continue
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
        _filtered_loggers.add(name)


def _composite(
    red: npt.NDArray[np.uint16],
    green: npt.NDArray[np.uint16],
    blue: npt.NDArray[np.uint16],
    nir: npt.NDArray[np.uint16],
    scl: npt.NDArray[np.uint8],
    *,
    offsets: npt.NDArray[np.float32],
    scale: float,
) -> npt.NDArray[np.float32]:
    """Median of the clear observations (axis 0): (6, 1, y, x) = bands, ndvi, cloud mask."""
    bands = (red, green, blue, nir)
    clear = np.isin(scl, CLEAR_SCL_CLASSES)
    for band in bands:
        clear &= band > 0
    out = np.empty((6, 1, *scl.shape[1:]), dtype=np.float32)
    offset = offsets.astype(np.float32)[:, None, None]
    seen = clear.any(axis=0)
    # Pixels with no clear observation get a dummy 0 (then NaN) so that nanmedian does not warn:
    # warnings.catch_warnings is not thread-safe under dask's threaded scheduler.
    for i, band in enumerate(bands):
        reflectance = band.astype(np.float32) * np.float32(scale) + offset
        reflectance[~clear] = np.nan
        reflectance[:, ~seen] = 0.0
        out[i, 0] = np.where(seen, np.nanmedian(reflectance, axis=0), np.float32(np.nan))
    out[4, 0] = compute_ndvi(out[0, 0], out[3, 0])
    out[5, 0] = ~seen
    return out


def _empty_period(size: int, chunks: dict[str, int]) -> da.Array:
    planes = da.full(
        (5, 1, size, size), np.nan, dtype=np.float32, chunks=(5, 1, chunks["y"], chunks["x"])
    )
    mask = da.ones((1, 1, size, size), dtype=np.float32, chunks=(1, 1, chunks["y"], chunks["x"]))
    return da.concatenate([planes, mask], axis=0).rechunk((6, 1, chunks["y"], chunks["x"]))


# --- validation -------------------------------------------------------------------------------


def _collection_spec(collection: str) -> _Collection:
    if collection not in COLLECTIONS:
        raise ValueError(
            f"collection {collection!r} has no band mapping; "
            f"known collections: {sorted(COLLECTIONS)}"
        )
    return COLLECTIONS[collection]


def _resolve_assets(
    spec: _Collection, assets: Mapping[str, str] | None, item: Any, collection: str
) -> dict[str, str]:
    """The asset key of every band role (red, green, blue, nir, scl) for these items."""
    chosen: dict[str, str] = {}
    overrides = dict(assets or {})
    unknown = sorted(set(overrides) - set(_ASSET_ROLES))
    if unknown:
        raise ValueError(f"unknown band(s) {unknown}; the bands are {list(_ASSET_ROLES)}")
    for role in _ASSET_ROLES:
        candidates = (overrides[role],) if role in overrides else spec.assets[role]
        found = [key for key in candidates if key in item.assets]
        if not found:
            raise ValueError(
                f"the {collection} items have no asset for band {role!r} (looked for "
                f"{list(candidates)}); their assets are {sorted(item.assets)}"
            )
        chosen[role] = found[0]
    return chosen


# --- the source -------------------------------------------------------------------------------


def stac_scene(
    start: str,
    end: str,
    period: str = "1m",
    *,
    location: tuple[float, float],
    size: int = 500,
    resolution: float = 10.0,
    catalog: str,
    collection: str = "sentinel-2-l2a",
    sign: Callable[[str], str] | str | None = None,
    max_cloud: float | None = None,
    chunks: dict[str, int] | None = None,
    drop_partial: bool = False,
    assets: Mapping[str, str] | None = None,
    resampling: str = "nearest",
    timeout: float = 60.0,
    **options: Any,
) -> tuple[xr.Dataset, None]:
    """A lazy Scene of per-period median composites from a STAC catalogue.

    Parameters
    ----------
    start, end, period : str
        The date range (``end`` exclusive) and period length (see :func:`make_periods`).
    location : (float, float)
        Longitude and latitude of the scene centre.
    size : int, default 500
        Scene side in pixels.
    resolution : float, default 10
        Pixel size in metres; the grid is :func:`scene_grid` (UTM, north up).
    catalog : str
        A STAC API URL (e.g. ``https://planetarycomputer.microsoft.com/api/stac/v1``) or the URL
        or path (``file://`` too) of a static ``catalog.json``/``collection.json``. A SAS query
        string on the URL is used to read the catalogue and the assets in the same container.
    collection : str, default "sentinel-2-l2a"
        The collection; see ``COLLECTIONS`` for those with a band mapping.
    sign : callable or str, optional
        ``href -> signed href``, applied when an asset (or a static catalogue file over http) is
        read: ``planetary_computer.sign``, :func:`sas_signer` or :func:`azure_sas_signer`; or a
        config string for :func:`resolve_signer` (``"planetary-computer"``, ``"sas:<ENV_VAR>"``).
    max_cloud : float, optional
        Skip items whose ``eo:cloud_cover`` exceeds this percentage (0-100).
    chunks : dict, optional
        Scene chunks; :func:`default_chunks` by default (``time`` is always 1).
    drop_partial : bool, default False
        Drop a trailing partial period (see :func:`make_periods`).
    assets : dict, optional
        Asset keys overriding the band mapping, e.g. ``{"red": "B04_10m"}``; keys among red,
        green, blue, nir and scl.
    resampling : str, default "nearest"
        odc-stac resampling of the bands (the SCL layer is always resampled by nearest).
    timeout : float, default 60
        Seconds before a catalogue request fails.
    **options
        Passed on to :func:`odc.stac.load` (e.g. ``pool``).

    Returns
    -------
    scene, None
        The lazy Scene (no weather from this source).

    Raises
    ------
    ValueError
        For an unknown collection or band, a zero-size region, coordinates out of range, a
        catalogue that cannot be read, a bad ``max_cloud``; at compute time, an asset that cannot
        be read (named without its query string).
    ImportError
        If odc-stac/pystac are not installed (``pip install vegdask[stac]``).

    Examples
    --------
    >>> stac_scene("2022-01-01", "2022-03-01", location=(27.94, 11.58), catalog="x",
    ...            collection="landsat")
    Traceback (most recent call last):
    ...
    ValueError: collection 'landsat' has no band mapping; known collections: ['sentinel-2-l2a']
    """
    spec = _collection_spec(collection)
    check_region(location, size, resolution)
    sign = resolve_signer(sign)
    if assets is not None:
        unknown = sorted(set(assets) - set(_ASSET_ROLES))
        if unknown:
            raise ValueError(f"unknown band(s) {unknown}; the bands are {list(_ASSET_ROLES)}")
    if max_cloud is not None and not 0 <= max_cloud <= 100:
        raise ValueError(f"max_cloud must be a percentage within 0..100, got {max_cloud!r}")
    chunks = {**default_chunks(), **(chunks or {}), "time": 1}
    periods = make_periods(start, end, period, drop_partial=drop_partial)
    odc_stac, _ = _import_stac()
    from affine import Affine
    from odc.geo.geobox import GeoBox

    epsg, x, y = scene_grid(location, size, resolution)
    geobox = GeoBox(
        (size, size),
        Affine(resolution, 0.0, x[0] - resolution / 2, 0.0, -resolution, y[0] + resolution / 2),
        f"EPSG:{epsg}",
    )
    lonlat = geobox.geographic_extent.boundingbox
    bbox = (lonlat.left, lonlat.bottom, lonlat.right, lonlat.top)
    first = pd.Timestamp(periods["start"].iloc[0]).to_pydatetime()
    last = pd.Timestamp(periods["end"].iloc[-1]).to_pydatetime()

    catalog = str(catalog)
    query = urllib.parse.urlsplit(catalog).query if _is_url(catalog) else ""
    if sign is None and query and catalog.startswith(("http://", "https://")):
        sign = SasSigner(query, prefix=_container_prefix(catalog))
    if _is_static(catalog):
        found = _static_items(catalog, sign, timeout)
    else:
        found = _api_items(catalog, collection, bbox, (first, last), max_cloud, timeout)

    starts = periods["start"].to_numpy()
    selected: list[tuple[int, Any]] = []
    for item in found:
        when = _item_time(item)
        if item.collection_id not in (None, collection) or when is None:
            continue
        if not first <= when < last or item.bbox is None or not _overlaps(item.bbox, bbox):
            continue
        cover = _cloud_cover(item)
        if max_cloud is not None and cover is not None and cover > max_cloud:
            continue
        index = int(np.searchsorted(starts, np.datetime64(when), side="right")) - 1
        selected.append((index, item))

    per_period: list[da.Array | None] = [None] * len(periods)
    if selected:
        items = [item for _, item in selected]
        keys_of = _assets_of(spec, assets, items, collection)
        lon = float(location[0])
        keys = [
            (
                index,
                (_item_time(item) + timedelta(hours=lon / 15)).date(),
                reflectance_offset(item, keys_of["red"], collection),
            )
            for index, item in selected
        ]
        groups = sorted(set(keys))

        def group_key(item: Any, parsed: Any, idx: int) -> tuple[int, date, float]:
            return keys[idx]

        stac_cfg = {
            "*": {
                "assets": {
                    "*": {"data_type": "uint16", "nodata": 0},
                    keys_of["scl"]: {"data_type": "uint8", "nodata": 0},
                },
                "warnings": "ignore",
            }
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odc-stac's notes on missing STAC extensions
            loaded = odc_stac.load(
                items,
                bands=[keys_of[role] for role in _ASSET_ROLES],
                geobox=geobox,
                chunks={"time": 1, "y": chunks["y"], "x": chunks["x"]},
                groupby=group_key,
                resampling={"*": resampling, keys_of["scl"]: "nearest"},
                stac_cfg=stac_cfg,
                driver=_SigningDriver(sign),
                fail_on_error=True,
                **options,
            )
        arrays = {role: loaded[keys_of[role]].data for role in _ASSET_ROLES}
        for p in range(len(periods)):
            members = [g for g, key in enumerate(groups) if key[0] == p]
            if not members:
                continue
            window = slice(members[0], members[-1] + 1)
            offsets = np.array([groups[g][2] for g in members], dtype=np.float32)
            blocks = [arrays[role][window].rechunk({0: -1}) for role in _ASSET_ROLES]
            per_period[p] = da.map_blocks(
                _composite,
                *blocks,
                offsets=offsets,
                scale=spec.scale,
                new_axis=0,
                chunks=((6,), (1,), blocks[0].chunks[1], blocks[0].chunks[2]),
                dtype=np.float32,
                meta=np.empty((0, 0, 0, 0), dtype=np.float32),
            )
    stack = da.concatenate(
        [block if block is not None else _empty_period(size, chunks) for block in per_period],
        axis=1,
    )
    dims = ("time", "y", "x")
    data_vars: dict[str, Any] = {name: (dims, stack[i]) for i, name in enumerate((*BANDS, "ndvi"))}
    data_vars[CLOUD_MASK] = (dims, stack[5] > 0.5)
    attrs = {
        "source": "stac",
        "collection": collection,
        "location": f"{location[0]:.4f},{location[1]:.4f}",
        "resolution": float(resolution),
        "catalog": _strip_query(catalog),
    }
    scene = xr.Dataset(data_vars, coords={**period_coords(periods), "y": y, "x": x}, attrs=attrs)
    return scene.rio.write_crs(f"EPSG:{epsg}"), None


def _container_prefix(url: str) -> str:
    """The ``scheme://host/container/`` prefix of a blob URL.

    An emulator such as Azurite has the account in the path: ``scheme://host/account/container/``.

    Examples
    --------
    >>> _container_prefix("https://acct.blob.core.windows.net/imagery/stac/catalog.json?sig=x")
    'https://acct.blob.core.windows.net/imagery/'
    >>> _container_prefix("http://127.0.0.1:10000/devstoreaccount1/imagery/catalog.json")
    'http://127.0.0.1:10000/devstoreaccount1/imagery/'
    """
    parts = urllib.parse.urlsplit(url)
    segments = [s for s in parts.path.split("/") if s][:-1]  # the folders above the file
    depth = 1 if (parts.hostname or "").endswith(".blob.core.windows.net") else 2
    return f"{parts.scheme}://{parts.netloc}/{'/'.join(segments[:depth])}/"


def _assets_of(
    spec: _Collection, assets: Mapping[str, str] | None, items: Sequence[Any], collection: str
) -> dict[str, str]:
    keys = _resolve_assets(spec, assets, items[0], collection)
    for item in items[1:]:
        missing = [key for key in keys.values() if key not in item.assets]
        if missing:
            raise ValueError(
                f"item {item.id} has no asset(s) {missing}; its assets are {sorted(item.assets)}"
            )
    return keys
