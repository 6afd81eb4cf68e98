"""The location catalogue against pyveg v1.1.0's coordinate store: its rows and its counts."""

from collections import Counter
from importlib.resources import files

import pytest

from vegdask.data import location, locations, region_pixels

# pyveg v1.1.0's coordinate store, rows written here from pyveg/coordinates.py as v1.1.0 has them
# (independently of the package's CSV): the rows v1.1.0 corrected or added, and two unchanged ones.
PYVEG_V110_ROWS = {
    # id: (country, type, latitude, longitude)
    "00": ("Sudan", "spots", 11.58, 27.94),
    "16": ("Niger", "spots-labyrinths", 15.03, -0.87),
    "17": ("Niger", "declining", 15.23, -0.97),
    "21": ("Mali", "spots-labyrinths", 14.92, -0.99),
    "30": ("Mali", "labyrinths", 14.8, -3.38),
    "38": ("Somalia", "bands", 9.63, 47.93),
    "44": ("Mali", "labyrinths", 14.8, -3.38),
    "55": ("Sudan", "gaps", 11.07, 27.93),
    "56": ("Sudan", "gaps", 11.28, 27.96),
    "59": ("Sudan", "spots", 11.51, 27.87),
    "60": ("Sudan", "spots", 11.22, 27.73),
    "61": ("Sudan", "spots", 11.62, 27.86),
    "62": ("Sudan", "spots", 11.32, 27.88),
    "63": ("Sudan", "spots", 11.37, 27.68),
    "64": ("Sudan", "spots", 11.6, 27.73),
    "65": ("Sudan", "spots", 11.46, 27.68),
    "66": ("Sudan", "spots", 11.71, 27.91),
}


def test_catalogue_is_pyvegs_67_rows():
    catalogue = locations()
    assert list(catalogue) == [f"{i:02d}" for i in range(67)]  # pyveg asserts len == 67
    for entry in catalogue.values():
        assert -180 <= entry.longitude <= 180
        assert -90 <= entry.latitude <= 90
        assert entry.region_size == 0.08  # all 67 rows (pyveg v1.1.0)


@pytest.mark.parametrize("row_id", sorted(PYVEG_V110_ROWS))
def test_rows_match_pyveg_v110(row_id):
    entry = location(row_id)
    country, pattern, latitude, longitude = PYVEG_V110_ROWS[row_id]
    assert (entry.country, entry.pattern_type) == (country, pattern)
    assert (entry.latitude, entry.longitude) == (latitude, longitude)


def test_counts_match_pyveg_v110():
    # pyveg v1.1.0's counts by country, continent and pattern type.
    catalogue = locations().values()
    assert Counter(e.country for e in catalogue) == {
        "Sudan": 15, "Mali": 14, "Niger": 10, "Somalia": 5, "Senegal": 4, "Australia": 4,
        "Mexico": 3, "Kenya": 2, "Ethiopia": 2, "Chad": 2, "Mauritania": 2, "Zambia": 1,
        "USA": 1, "Namibia": 1, "Nigeria": 1,
    }  # fmt: skip
    assert Counter(e.pattern_type for e in catalogue) == {
        "labyrinths": 25, "gaps": 15, "spots": 12, "spots-labyrinths": 10, "declining": 3,
        "degraded": 1, "bands": 1,
    }  # fmt: skip
    america = {e.country for e in catalogue if e.continent == "America"}
    assert america == {"Mexico", "USA"}
    coordinates = Counter(e.coordinates for e in catalogue)
    assert [c for c, n in coordinates.items() if n > 1] == [(-3.38, 14.8)]  # rows 30 and 44 only


def test_catalogue_keeps_its_provenance_header():
    text = files("vegdask.data").joinpath("locations.csv").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "pyveg v1.1.0" in header[0]
    assert "MIT licence" in header[0]


def test_ids_as_integers_and_unknown_ids_are_explained():
    assert location(7) is location("07")
    assert location("44") is not location("30")  # its own row in v1.1.0
    with pytest.raises(KeyError, match="unknown location id '99'; known ids: 00, 01"):
        location("99")


def test_region_pixels_is_pyvegs_region_at_the_resolution():
    # 0.08 degrees of latitude is 8906 m: 890 Sentinel-2 pixels, 17 x 17 tiles (pyveg: 289).
    assert region_pixels(0.08, 10.0) == 890
    assert (region_pixels(0.08, 10.0) // 50) ** 2 == 289
    with pytest.raises(ValueError, match="must be > 0"):
        region_pixels(0.0, 10.0)
