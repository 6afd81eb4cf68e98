"""Split a date range into periods, with pyveg's mid-dates.

A period string is ``<N><unit>`` with unit ``d`` (days), ``w`` (weeks), ``m`` (months) or ``y``
(years), e.g. ``"1m"``. Periods are ``[start, start + N units)``; the mid-date is
``start + (days // 2)`` as in pyveg (monthly from 2016-01-01: 2016-01-16, 2016-02-15, ...).

Unlike pyveg, a trailing partial period is kept (``drop_partial=True`` drops it) and the user's
range is never clipped silently.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pandas as pd
from dateutil.relativedelta import relativedelta

__all__ = ["make_periods", "parse_period"]

_PERIOD = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}


def parse_period(period: str) -> relativedelta:
    """Parse ``"<N><d|w|m|y>"`` into a :class:`dateutil.relativedelta.relativedelta`.

    Examples
    --------
    >>> parse_period("1m")
    relativedelta(months=+1)
    """
    match = _PERIOD.match(str(period))
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"period {period!r} is not valid; use a positive count and a unit d, w, m or y, "
            "e.g. '1m'"
        )
    step: dict[str, Any] = {_UNITS[match.group(2).lower()]: int(match.group(1))}
    return relativedelta(**step)


def _as_date(value: str | date, name: str) -> date:
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} {value!r} is not a date; use YYYY-MM-DD") from err


def make_periods(
    start: str | date, end: str | date, period: str = "1m", *, drop_partial: bool = False
) -> pd.DataFrame:
    """The periods covering ``[start, end)``.

    Parameters
    ----------
    start, end : str or date
        The date range (``YYYY-MM-DD``); ``end`` is exclusive.
    period : str, default "1m"
        The period length, ``<N><d|w|m|y>``.
    drop_partial : bool, default False
        Drop a trailing period that would end after ``end`` (pyveg's behaviour) instead of keeping
        it shortened to end at ``end``.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``end`` (exclusive) and ``mid`` (``start + days // 2``), datetime64.

    Raises
    ------
    ValueError
        If a date cannot be parsed, ``end <= start``, the period is malformed, or no whole period
        fits with ``drop_partial=True``.

    Examples
    --------
    >>> p = make_periods("2016-01-01", "2016-04-15", "1m")
    >>> [d.strftime("%Y-%m-%d") for d in p["mid"]]
    ['2016-01-16', '2016-02-15', '2016-03-16', '2016-04-08']
    >>> len(make_periods("2016-01-01", "2016-04-15", "1m", drop_partial=True))
    3
    """
    first = _as_date(start, "start")
    last = _as_date(end, "end")
    if last <= first:
        raise ValueError(f"end {last} must be after start {first}")
    step = parse_period(period)
    rows = []
    current = first
    while current < last:
        following = current + step
        if following > last:
            if drop_partial:
                break
            following = last
        rows.append((current, following, current + timedelta(days=(following - current).days // 2)))
        current = following
    if not rows:
        raise ValueError(
            f"no whole {period} period fits between {first} and {last}; "
            "shorten the period or keep the partial one (drop_partial=False)"
        )
    return pd.DataFrame(rows, columns=["start", "end", "mid"]).apply(pd.to_datetime)
