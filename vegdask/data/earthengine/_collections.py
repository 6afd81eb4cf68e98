"""The Earth Engine collections vegdask reads: bands, scaling, QA bits, availability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from dateutil.relativedelta import relativedelta

__all__ = [
    "CLOUD_SCORE_PLUS",
    "EARTHENGINE_COLLECTIONS",
    "LANDSAT_OFFSET",
    "LANDSAT_SCALE",
    "QA_CIRRUS",
    "QA_CLOUD",
    "QA_CLOUD_SHADOW",
    "QA_DILATED_CLOUD",
    "QA_FILL",
    "QA_SNOW",
    "SENTINEL2_SCALE",
    "Collection",
    "check_collection",
    "check_dates",
]


CLOUD_SCORE_PLUS = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"

# Landsat Collection 2 QA_PIXEL bits (USGS Landsat 4-7 / 8-9 C2 L2 Science Product Guides).
QA_FILL = 1 << 0

QA_DILATED_CLOUD = 1 << 1

QA_CIRRUS = 1 << 2  # Landsat 8/9 only; unused (always 0) on Landsat 4/5/7

QA_CLOUD = 1 << 3

QA_CLOUD_SHADOW = 1 << 4

QA_SNOW = 1 << 5

LANDSAT_SCALE = 0.0000275

LANDSAT_OFFSET = -0.2

SENTINEL2_SCALE = 0.0001


@dataclass(frozen=True)
class Collection:
    id: str
    family: str  # "sentinel2" or "landsat"
    sources: tuple[str, str, str, str]  # source bands for red, green, blue, nir
    resolution: float  # metres, the default pixel size
    first: date
    last: date | None  # None: still acquiring
    cirrus: bool = False  # Landsat: QA_PIXEL has a cirrus bit

    @property
    def availability(self) -> str:
        return f"{self.first} to {self.last}" if self.last else f"from {self.first}"


# Availability dates: the Earth Engine Data Catalog's "Dataset Availability" (checked November
# 2026 where noted; the others are from the catalog as quoted in the vegdask issue #3 and were not
# re-checked here). Retired missions' last dates can move when USGS reprocesses: recheck them
# against https://developers.google.com/earth-engine/datasets/catalog/<id with / replaced by _>.
_S2 = ("B4", "B3", "B2", "B8")

_OLI = ("SR_B4", "SR_B3", "SR_B2", "SR_B5")  # Landsat 8/9

_TM = ("SR_B3", "SR_B2", "SR_B1", "SR_B4")  # Landsat 4/5 TM, Landsat 7 ETM+

EARTHENGINE_COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        # 2017-03-28: catalog page of COPERNICUS/S2_SR (superseded by the harmonized set, same
        # start), checked.
        Collection("COPERNICUS/S2_SR_HARMONIZED", "sentinel2", _S2, 10.0, date(2017, 3, 28), None),
        # 2015-06-27: issue #3 (also Cloud Score+'s start), not re-checked.
        Collection("COPERNICUS/S2_HARMONIZED", "sentinel2", _S2, 10.0, date(2015, 6, 27), None),
        # 1982-08-22 to 1993-06-24: catalog page of LANDSAT/LT04/C02/T1_L2, checked (issue #3 said
        # 1993-12-14, the Collection 1 end).
        Collection(
            "LANDSAT/LT04/C02/T1_L2", "landsat", _TM, 30.0, date(1982, 8, 22), date(1993, 6, 24)
        ),
        # 1984-03-16 to 2012-05-05: issue #3 (same as the LT05 Collection 1 catalog page, checked);
        # the C2 L2 page was not found.
        Collection(
            "LANDSAT/LT05/C02/T1_L2", "landsat", _TM, 30.0, date(1984, 3, 16), date(2012, 5, 5)
        ),
        # 1999-05-28 to 2024-01-19: catalog page of LANDSAT/LE07/C02/T1_TOA (same scenes), checked.
        Collection(
            "LANDSAT/LE07/C02/T1_L2", "landsat", _TM, 30.0, date(1999, 5, 28), date(2024, 1, 19)
        ),
        # 2013-03-18 and 2021-10-31: issue #3, not re-checked.
        Collection(
            "LANDSAT/LC08/C02/T1_L2", "landsat", _OLI, 30.0, date(2013, 3, 18), None, cirrus=True
        ),
        Collection(
            "LANDSAT/LC09/C02/T1_L2", "landsat", _OLI, 30.0, date(2021, 10, 31), None, cirrus=True
        ),
    )
}

# Deprecated ids users may carry over from pyveg, and what replaces them.
_REPLACED = {
    "COPERNICUS/S2": "COPERNICUS/S2_HARMONIZED",
    "COPERNICUS/S2_SR": "COPERNICUS/S2_SR_HARMONIZED",
    "LANDSAT/LC08/C01/T1_SR": "LANDSAT/LC08/C02/T1_L2",
    "LANDSAT/LE07/C01/T1_SR": "LANDSAT/LE07/C02/T1_L2",
    "LANDSAT/LT05/C01/T1_SR": "LANDSAT/LT05/C02/T1_L2",
    "LANDSAT/LT04/C01/T1_SR": "LANDSAT/LT04/C02/T1_L2",
}


def check_collection(collection: str) -> Collection:
    if collection in EARTHENGINE_COLLECTIONS:
        return EARTHENGINE_COLLECTIONS[collection]
    hint = ""
    if collection in _REPLACED:
        hint = f" ({collection!r} is deprecated in Earth Engine; use {_REPLACED[collection]!r})"
    raise ValueError(
        f"collection {collection!r} is not supported{hint}; allowed: "
        f"{', '.join(EARTHENGINE_COLLECTIONS)}"
    )


def _availability_table() -> str:
    return "; ".join(f"{c.id} {c.availability}" for c in EARTHENGINE_COLLECTIONS.values())


def check_dates(collection: Collection, periods: pd.DataFrame) -> None:
    first = pd.Timestamp(periods["start"].iloc[0]).date()
    end = pd.Timestamp(periods["end"].iloc[-1]).date()  # exclusive
    if first < collection.first or (
        collection.last is not None and end > collection.last + relativedelta(days=1)
    ):
        raise ValueError(
            f"the date range {first}..{end} is outside the availability of {collection.id} "
            f"({collection.availability}); choose dates inside it or another collection. "
            f"Availability: {_availability_table()}"
        )
