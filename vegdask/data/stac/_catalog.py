"""Reading the catalogue: a STAC API search or a static catalogue walk, then the items in range."""

from __future__ import annotations

import re
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vegdask.data.stac._redaction import redact, strip_query

__all__ = ["find_items", "import_stac", "item_time", "select_items"]


_INSTALL_HINT = (
    "the STAC source needs odc-stac, pystac and pystac-client: pip install vegdask[stac]"
)


def import_stac() -> tuple[Any, Any]:
    try:
        import odc.stac
        import pystac
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return odc.stac, pystac


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
            f"cannot read the STAC catalogue file {strip_query(href)}: {reason}"
        ) from None
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as err:
        why = getattr(err, "reason", err)
        raise ValueError(
            f"cannot read the STAC catalogue file {strip_query(href)}: {redact(str(why))}"
        ) from None


def _static_items(catalog: str, sign: Callable[[str], str] | None, timeout: float) -> list[Any]:
    """Every item of a static catalogue, collection, item collection or item."""
    _, pystac = import_stac()
    from pystac.stac_io import DefaultStacIO

    class _SigningStacIO(DefaultStacIO):  # reads with the signer, logs no URL
        def read_text_from_href(self, href: str) -> str:
            return _read_text(href, sign, timeout)

    io = _SigningStacIO()
    href = _local_path(catalog) if catalog.startswith("file://") else strip_query(catalog)
    try:
        obj = pystac.read_dict(io.read_json(href), href=href, stac_io=io)
    except ValueError as err:
        if "cannot read the STAC catalogue" in str(err):
            raise
        raise ValueError(
            f"{strip_query(catalog)} is not a STAC catalogue: {redact(str(err))}"
        ) from None
    except (pystac.STACError, KeyError, TypeError) as err:
        raise ValueError(
            f"{strip_query(catalog)} is not a STAC catalogue: {redact(str(err))}"
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
    where = strip_query(catalog)
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
        unreachable = _unreachable(err)
        if unreachable:
            raise ValueError(
                f"cannot reach the STAC API {where} ({unreachable}); check the network "
                "connection (and the host name), then rerun"
            ) from None
        detail = textwrap.shorten(redact(str(err)), 300, placeholder=" ...")
        raise ValueError(
            f"cannot search the STAC API {where}: {type(err).__name__}: {detail}; "
            "give a STAC API URL or the URL/path of a static catalog.json"
        ) from None


_NETWORK = re.compile(
    r"\[Errno -?\d+\] ([A-Za-z][A-Za-z ]+)|(timed out|Read timed out|Connection aborted)"
)


def _unreachable(err: BaseException) -> str | None:
    """Why the host could not be reached (no network, unknown name, refused), else None.

    pystac-client wraps requests' connection errors into an ``APIError`` carrying their text.

    Examples
    --------
    >>> _unreachable(OSError("... Failed to resolve 'x' ([Errno -2] Name or service not known)"))
    'Name or service not known'
    >>> _unreachable(ValueError("404 Not Found")) is None
    True
    """
    found = _NETWORK.search(str(err))
    if found is None:
        return None
    return (found.group(1) or found.group(2)).strip()


def _is_static(catalog: str) -> bool:
    path = urllib.parse.urlsplit(catalog).path if _is_url(catalog) else catalog
    return not _is_url(catalog) or catalog.startswith("file://") or path.endswith(".json")


def item_time(item: Any) -> datetime | None:
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


def find_items(
    catalog: str,
    collection: str,
    bbox: tuple[float, float, float, float],
    interval: tuple[datetime, datetime],
    *,
    max_cloud: float | None,
    sign: Callable[[str], str] | None,
    timeout: float,
) -> list[Any]:
    """The catalogue's candidate items: a static catalogue's all, a STAC API's search results."""
    if _is_static(catalog):
        return _static_items(catalog, sign, timeout)
    return _api_items(catalog, collection, bbox, interval, max_cloud, timeout)


def select_items(
    found: Sequence[Any],
    collection: str,
    starts: Any,
    bbox: tuple[float, float, float, float],
    interval: tuple[datetime, datetime],
    max_cloud: float | None,
) -> list[tuple[int, Any]]:
    """``(period index, item)`` of the items of ``collection`` over ``bbox`` within ``interval``.

    ``starts`` are the periods' start dates (numpy datetime64, ascending); items above
    ``max_cloud`` percent cloud cover are left out.
    """
    first, last = interval
    selected: list[tuple[int, Any]] = []
    for item in found:
        when = item_time(item)
        if item.collection_id not in (None, collection) or when is None:
            continue
        if not first <= when < last or item.bbox is None or not _overlaps(item.bbox, bbox):
            continue
        cover = _cloud_cover(item)
        if max_cloud is not None and cover is not None and cover > max_cloud:
            continue
        index = int(np.searchsorted(starts, np.datetime64(when), side="right")) - 1
        selected.append((index, item))
    return selected
