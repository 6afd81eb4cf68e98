import pandas as pd
import pytest

from vegdask.data import make_periods, parse_period


def iso(values):
    return [d.strftime("%Y-%m-%d") for d in values]


def test_monthly_mid_dates_as_pyveg():
    periods = make_periods("2016-01-01", "2016-04-01", "1m")
    assert iso(periods["mid"]) == ["2016-01-16", "2016-02-15", "2016-03-16"]
    assert iso(periods["start"]) == ["2016-01-01", "2016-02-01", "2016-03-01"]
    assert iso(periods["end"]) == ["2016-02-01", "2016-03-01", "2016-04-01"]


def test_trailing_partial_period_is_kept_unless_dropped():
    kept = make_periods("2016-01-01", "2016-04-15", "1m")
    assert len(kept) == 4
    assert iso(kept["end"])[-1] == "2016-04-15"  # the user's range is not clipped
    assert len(make_periods("2016-01-01", "2016-04-15", "1m", drop_partial=True)) == 3


@pytest.mark.parametrize(("period", "count"), [("10d", 4), ("2w", 3), ("1y", 1), ("3m", 1)])
def test_other_units(period, count):
    periods = make_periods("2016-01-01", "2016-02-10", period)
    assert len(periods) == count
    assert periods["end"].iloc[-1] == pd.Timestamp("2016-02-10")
    assert (periods["start"].iloc[1:].to_numpy() == periods["end"].iloc[:-1].to_numpy()).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2016-01-01", "2015-01-01", "1m"), "must be after"),
        (("2016-13-01", "2017-01-01", "1m"), "not a date"),
        (("2016-01-01", "2017-01-01", "1q"), "not valid"),
        (("2016-01-01", "2017-01-01", "0m"), "not valid"),
    ],
)
def test_bad_ranges_are_explained(args, message):
    with pytest.raises(ValueError, match=message):
        make_periods(*args)


def test_no_whole_period_when_dropping():
    with pytest.raises(ValueError, match="no whole"):
        make_periods("2016-01-01", "2016-01-20", "1m", drop_partial=True)


def test_parse_period():
    assert parse_period("2w").weeks == 2
