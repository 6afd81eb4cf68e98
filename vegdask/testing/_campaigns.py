"""A campaign's tables, to compare two runs of it (on Batch with a node preempted, and local)."""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from vegdask.data import RunStore

__all__ = ["campaign_tables", "table_differences"]


def campaign_tables(output: str) -> dict[str, Any]:
    """Every done location's time series and resilience.json, and the campaign's summary.

    Parameters
    ----------
    output : str
        The campaign's output (a local path or ``abfs://`` URL) holding ``campaign.json``.

    Returns
    -------
    dict
        ``"<id>/timeseries"`` (DataFrame of ``analysis/timeseries.csv``), ``"<id>/resilience"``
        (the JSON) per done location, and ``"summary"`` (``summary/summary.csv``, its ``run``
        column as ``locations/<id>``, wherever the campaign was written).
    """
    store = RunStore(output)
    entries = store.read_json("campaign.json")["locations"]
    tables: dict[str, Any] = {}
    for name, entry in entries.items():
        if entry["status"] != "done":
            continue
        site = f"{entry['output']}/analysis"
        tables[f"{name}/timeseries"] = _csv(store, f"{site}/timeseries.csv")
        tables[f"{name}/resilience"] = store.read_json(f"{site}/resilience.json")
    if store.exists("summary/summary.csv"):
        summary = _csv(store, "summary/summary.csv")
        summary["run"] = summary["run"].str.rsplit("/", n=2).str[-2:].str.join("/")
        tables["summary"] = summary
    return tables


def _csv(store: RunStore, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(store.read_bytes(name)))


def table_differences(got: dict[str, Any], expected: dict[str, Any], rtol: float = 1e-6) -> list:
    """What differs between two `campaign_tables` results, one line per difference.

    Numbers are compared to the relative tolerance ``rtol`` (NaN equal to NaN), everything else
    exactly.

    Examples
    --------
    >>> a = {"s": pd.DataFrame({"x": [1.0, float("nan")]}), "r": {"p": 0.5, "n": [1, 2]}}
    >>> b = {"s": pd.DataFrame({"x": [1.0 + 1e-12, float("nan")]}), "r": {"p": 0.5, "n": [1, 2]}}
    >>> table_differences(a, b)
    []
    >>> table_differences(a, {"s": pd.DataFrame({"x": [1.1, 2.0]}), "r": {"p": 0.5, "n": [1]}})
    ['s.x[0]: 1.0 != 1.1', 's.x[1]: nan != 2.0', 'r.n: 2 items != 1']
    """
    return _differences(_plain(got), _plain(expected), "", rtol)


def _plain(value: Any) -> Any:
    """DataFrames as {column: list}, so that tables and JSON are compared alike."""
    if isinstance(value, pd.DataFrame):
        return {str(c): value[c].tolist() for c in value.columns}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _differences(got: Any, expected: Any, where: str, rtol: float) -> list[str]:
    if isinstance(expected, dict) and isinstance(got, dict):
        if got.keys() != expected.keys():
            return [f"{where or 'tables'}: keys {sorted(got)} != {sorted(expected)}"]
        return [
            line
            for key in expected
            for line in _differences(got[key], expected[key], f"{where}.{key}".lstrip("."), rtol)
        ]
    if isinstance(expected, list) and isinstance(got, list):
        if len(got) != len(expected):
            return [f"{where}: {len(got)} items != {len(expected)}"]
        return [
            line
            for i, (a, b) in enumerate(zip(got, expected, strict=True))
            for line in _differences(a, b, f"{where}[{i}]", rtol)
        ]
    if _number(got) and _number(expected):
        if math.isnan(got) and math.isnan(expected):
            return []
        if math.isclose(got, expected, rel_tol=rtol, abs_tol=1e-12):
            return []
    elif got == expected:
        return []
    return [f"{where}: {got!r} != {expected!r}"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
