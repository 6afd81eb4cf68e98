"""pyveg's catalogue of known patterned-vegetation locations, addressable by id in job configs.

The catalogue is package data (``vegdask/data/locations.csv``, whose header says where it comes
from): pyveg v1.1.0's 67 rows ``"00"`` to ``"66"`` as pyveg wrote them. Rows ``"30"`` and ``"44"``
have the same coordinates, as in pyveg.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from importlib.resources import files

__all__ = ["Location", "location", "locations", "region_pixels"]

_METRES_PER_DEGREE = 111_320.0  # of latitude, to the precision a region size in degrees needs


@dataclass(frozen=True)
class Location:
    """One catalogue entry: where it is and what pattern pyveg's authors saw there."""

    id: str
    continent: str
    country: str
    pattern_type: str
    latitude: float
    longitude: float
    region_size: float  # degrees per side, as pyveg

    @property
    def coordinates(self) -> tuple[float, float]:
        """``(longitude, latitude)``, the order every vegdask function takes."""
        return (self.longitude, self.latitude)


@functools.cache
def locations() -> dict[str, Location]:
    """Every catalogue location by id (``"00"``, ``"01"``, ...), in id order.

    Examples
    --------
    >>> catalogue = locations()
    >>> catalogue["17"].country, catalogue["17"].pattern_type, catalogue["17"].coordinates
    ('Niger', 'declining', (-0.97, 15.23))
    """
    text = files("vegdask.data").joinpath("locations.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {
        row["id"]: Location(
            id=row["id"],
            continent=row["continent"],
            country=row["country"],
            pattern_type=row["type"],
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            region_size=float(row["region_size"]),
        )
        for row in rows
    }


def location(location_id: str | int) -> Location:
    """The catalogue location with id ``location_id`` (``"17"``, or ``17``).

    Raises
    ------
    KeyError
        If there is no such id; the message lists the known ids.

    Examples
    --------
    >>> location(0).country
    'Sudan'
    >>> location("44").coordinates == location("30").coordinates  # as in pyveg
    True
    """
    key = f"{int(location_id):02d}" if isinstance(location_id, int) else str(location_id)
    catalogue = locations()
    if key not in catalogue:
        raise KeyError(f"unknown location id {location_id!r}; known ids: {', '.join(catalogue)}")
    return catalogue[key]


def region_pixels(region_size: float, resolution: float) -> int:
    """Pixels per side of a square region ``region_size`` degrees of latitude high.

    pyveg downloaded 0.08-degree regions; at Sentinel-2's 10 m that is 890 pixels (17 x 17 tiles of
    50 px, the 289 sub-images of pyveg's tutorial).

    Examples
    --------
    >>> region_pixels(0.08, 10.0), region_pixels(0.08, 30.0)
    (890, 296)
    """
    if region_size <= 0 or resolution <= 0:
        raise ValueError(
            f"region size ({region_size} degrees) and resolution ({resolution} m) must be > 0"
        )
    return max(1, math.floor(region_size * _METRES_PER_DEGREE / resolution))
