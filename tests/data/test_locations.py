"""The location catalogue against the facts FEATURES.md records about pyveg's coordinate store."""

from collections import Counter

import pytest

from vegdask.data import location, locations, region_pixels


def test_entries_are_unique_well_formed_and_in_range():
    catalogue = locations()
    assert list(catalogue) == sorted(catalogue)
    assert all(len(key) == 2 and key.isdigit() for key in catalogue)
    coordinates = [entry.coordinates for entry in catalogue.values()]
    assert len(set(coordinates)) == len(coordinates)  # pyveg's duplicate 30/44 is gone
    for entry in catalogue.values():
        assert -180 <= entry.longitude <= 180
        assert -90 <= entry.latitude <= 90
        assert entry.region_size == 0.08


def test_known_rows_match_pyveg():
    # Examples given in FEATURES.md K1.
    assert location("00").coordinates == (27.94, 11.58)
    assert (location("00").country, location("00").pattern_type) == ("Sudan", "spots")
    assert location("17").coordinates == (-0.97, 15.23)
    assert (location("17").country, location("17").pattern_type) == ("Niger", "declining")
    assert location("18").coordinates == (-1.15, 15.34)
    assert location("18").pattern_type == "spots-labyrinths"
    assert location("30").coordinates == (-3.38, 14.8)


def test_country_counts_match_pyveg_apart_from_the_missing_sudan_rows():
    counts = Counter(entry.country for entry in locations().values())
    # FEATURES.md K1 counts, minus the duplicate (44, Mali) and the eight unknown Sudan rows 59-66.
    expected = {"Sudan": 15 - 8, "Mali": 14 - 1, "Niger": 10, "Somalia": 5, "Senegal": 4,
                "Australia": 4, "Mexico": 3, "Kenya": 2, "Ethiopia": 2, "Chad": 2,
                "Mauritania": 2, "Zambia": 1, "USA": 1, "Namibia": 1, "Nigeria": 1}  # fmt: skip
    assert counts == expected
    america = {e.country for e in locations().values() if e.continent == "America"}
    assert america == {"Mexico", "USA"}


def test_duplicate_id_is_an_alias_and_unknown_ids_are_explained():
    assert location("44") is location("30")
    assert location(7) is location("07")
    with pytest.raises(KeyError, match="unknown location id '99'; known ids: 00, 01"):
        location("99")


def test_region_pixels_is_pyvegs_region_at_the_resolution():
    # 0.08 degrees of latitude is 8906 m: 890 Sentinel-2 pixels, 17 x 17 tiles (pyveg: 289).
    assert region_pixels(0.08, 10.0) == 890
    assert (region_pixels(0.08, 10.0) // 50) ** 2 == 289
    with pytest.raises(ValueError, match="must be > 0"):
        region_pixels(0.0, 10.0)
