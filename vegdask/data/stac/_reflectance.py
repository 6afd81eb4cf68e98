"""Collections: asset keys per band, Scene Classification classes, the reflectance offset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vegdask.data._scene import BANDS
from vegdask.data.stac._catalog import item_time

__all__ = [
    "ASSET_ROLES",
    "CLEAR_SCL_CLASSES",
    "COLLECTIONS",
    "UNUSABLE_SCL_CLASSES",
    "Collection",
    "assets_of",
    "check_asset_roles",
    "collection_spec",
    "reflectance_offset",
]


# Scene Classification Layer classes (Sentinel-2 L2A).
UNUSABLE_SCL_CLASSES: tuple[int, ...] = (0, 1, 3, 8, 9, 10, 11)

CLEAR_SCL_CLASSES: tuple[int, ...] = (2, 4, 5, 6, 7)

_BASELINE_WITH_OFFSET = 4.0

_OFFSET_START = datetime(2022, 1, 25)


@dataclass(frozen=True)
class Collection:
    """How to read one collection: asset keys per band (first present wins), scale, offset."""

    assets: Mapping[str, tuple[str, ...]]
    scale: float
    offset: float  # the offset of processing baselines >= 04.00


_SENTINEL2_L2A = Collection(
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

COLLECTIONS: dict[str, Collection] = {"sentinel-2-l2a": _SENTINEL2_L2A}

ASSET_ROLES: tuple[str, ...] = (*BANDS, "scl")


def collection_spec(collection: str) -> Collection:
    if collection not in COLLECTIONS:
        raise ValueError(
            f"collection {collection!r} has no band mapping; "
            f"known collections: {sorted(COLLECTIONS)}"
        )
    return COLLECTIONS[collection]


def check_asset_roles(assets: Mapping[str, str]) -> dict[str, str]:
    """``assets`` (band role -> asset key overrides) as a dict, if every role is known.

    Examples
    --------
    >>> check_asset_roles({"red": "B04_10m"})
    {'red': 'B04_10m'}
    """
    unknown = sorted(set(assets) - set(ASSET_ROLES))
    if unknown:
        raise ValueError(f"unknown band(s) {unknown}; the bands are {list(ASSET_ROLES)}")
    return dict(assets)


def resolve_assets(
    spec: Collection, assets: Mapping[str, str] | None, item: Any, collection: str
) -> dict[str, str]:
    """The asset key of every band role (red, green, blue, nir, scl) for these items."""
    chosen: dict[str, str] = {}
    overrides = check_asset_roles(assets or {})
    for role in ASSET_ROLES:
        candidates = (overrides[role],) if role in overrides else spec.assets[role]
        found = [key for key in candidates if key in item.assets]
        if not found:
            raise ValueError(
                f"the {collection} items have no asset for band {role!r} (looked for "
                f"{list(candidates)}); their assets are {sorted(item.assets)}"
            )
        chosen[role] = found[0]
    return chosen


def assets_of(
    spec: Collection, assets: Mapping[str, str] | None, items: Sequence[Any], collection: str
) -> dict[str, str]:
    keys = resolve_assets(spec, assets, items[0], collection)
    for item in items[1:]:
        missing = [key for key in keys.values() if key not in item.assets]
        if missing:
            raise ValueError(
                f"item {item.id} has no asset(s) {missing}; its assets are {sorted(item.assets)}"
            )
    return keys


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
    spec = collection_spec(collection)
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
    when = item_time(item)
    return spec.offset if when is not None and when >= _OFFSET_START else 0.0
