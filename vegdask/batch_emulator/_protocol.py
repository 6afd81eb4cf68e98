"""Batch REST conventions the emulator follows: errors, timestamps, durations, OData filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["EmulatorError", "matches", "parse_duration", "required", "timestamp"]

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class EmulatorError(Exception):
    """A Batch error: HTTP status, Batch error code, message and optional ``values`` details."""

    def __init__(
        self, status: int, code: str, message: str, values: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.values = values or {}


def timestamp() -> str:
    """The current UTC time as Batch writes it (ISO 8601 with ``Z``)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_duration(text: str | None) -> float | None:
    """Seconds in an ISO 8601 duration such as ``PT12H`` (``None`` when unset).

    Examples
    --------
    >>> parse_duration("PT1H30M"), parse_duration("P1DT2S"), parse_duration(None)
    (5400.0, 86402.0, None)
    """
    if text is None:
        return None
    match = _DURATION.match(text)
    if not match:
        raise EmulatorError(400, "InvalidPropertyValue", f"not an ISO 8601 duration: {text!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
    ) + parts.get("s", 0)


def required(body: dict[str, Any], key: str) -> Any:
    """``body[key]``, or Batch's ``400 MissingRequiredProperty`` when it is missing or empty."""
    if not body.get(key):
        raise EmulatorError(400, "MissingRequiredProperty", f"the property {key!r} is required")
    return body[key]


def matches(item: dict[str, Any], odata_filter: str | None) -> bool:
    """Evaluate the OData filters the SDK users send: ``a eq 'x' and b ne 'y'`` clauses.

    Examples
    --------
    >>> matches({"state": "active", "id": "p"}, "state eq 'ACTIVE' and id ne 'q'")
    True
    """
    if not odata_filter:
        return True
    for clause in re.split(r"\s+and\s+", odata_filter.strip()):
        match = re.fullmatch(r"\(?\s*(\w+)\s+(eq|ne)\s+'([^']*)'\s*\)?", clause)
        if not match:
            raise EmulatorError(
                400, "InvalidQueryParameterValue", f"unsupported $filter: {clause!r}"
            )
        name, op, value = match.groups()
        equal = str(item.get(name, "")).lower() == value.lower()
        if equal != (op == "eq"):
            return False
    return True
