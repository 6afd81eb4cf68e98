"""Batch authentication: the shared-key signature and Entra ID bearer tokens."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Collection, Mapping
from email.message import Message
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlparse

from vegdask.batch_emulator._protocol import EmulatorError

__all__ = ["DATE_WINDOW", "authenticate", "sign"]

DATE_WINDOW = dt.timedelta(minutes=15)
"""How far a signed request's ``ocp-date`` (or ``Date``) may be from now, as in Azure: replays of
an older request are refused."""

_SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)
_BAD_TOKEN = "The access token is not one this Batch account accepts (see BatchEmulator tokens)."


def sign(account_name: str, account_key: str, method: str, url: str, headers: dict) -> str:
    """The shared-key signature Batch expects for a request (as the azure-batch client computes it).

    Examples
    --------
    >>> key = base64.b64encode(b"k" * 32).decode()
    >>> sign("acct", key, "GET", "http://h/pools?api-version=1", {"ocp-date": "x"})[:14]
    'SharedKey acct'
    """
    lower = {k.lower(): str(v) for k, v in headers.items() if v}
    if method not in ("GET", "HEAD"):
        lower.setdefault("content-length", "0")
    parsed = urlparse(url)
    text = method + "\n" + "\n".join(lower.get(h, "") for h in _SIGNED_HEADERS) + "\n"
    for name, value in sorted((k, v) for k, v in lower.items() if "ocp-" in k):
        text += f"{name}:{value}\n"
    text += f"/{account_name}{parsed.path}"
    query = parse_qs(parsed.query)
    for name in sorted(query):
        if query[name][0]:
            text += f"\n{name}:{query[name][0]}"
    digest = hmac.new(base64.b64decode(account_key), text.encode(), hashlib.sha256).digest()
    return f"SharedKey {account_name}:{base64.b64encode(digest).decode()}"


def authenticate(
    method: str,
    url: str,
    headers: Mapping[str, str] | Message,
    *,
    account_name: str,
    account_key: str,
    tokens: Collection[str],
) -> None:
    """Accept a request signed with the account key or bearing one of ``tokens``, as Batch does.

    Raises
    ------
    EmulatorError
        ``401`` for a bearer token not in ``tokens``, ``403`` for a wrong shared-key signature.
    """
    given = headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() == "bearer":
        # Entra ID: Batch answers a token it does not accept with 401 AuthenticationFailed
        # and the reason in an AuthenticationErrorDetail value.
        if not any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens):
            raise EmulatorError(
                401,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of "
                "Authorization header is formed correctly.",
                {"AuthenticationErrorDetail": _BAD_TOKEN},
            )
        return
    expected = sign(account_name, account_key, method, url, dict(headers))
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise _signature_refused()
    _check_date(headers.get("ocp-date") or headers.get("date"))


def _signature_refused(detail: str | None = None) -> EmulatorError:
    return EmulatorError(
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization "
        "header is correctly formed including the signature.",
        {"AuthenticationErrorDetail": detail} if detail else None,
    )


def _check_date(value: str | None) -> None:
    """Refuse a signed request without a date, or dated more than `DATE_WINDOW` from now."""
    if not value:
        raise _signature_refused("Request date header not specified (ocp-date or Date).")
    try:
        sent = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise _signature_refused(f"Request date header is not an HTTP date: {value!r}.") from None
    if sent.tzinfo is None or abs(dt.datetime.now(dt.UTC) - sent) > DATE_WINDOW:
        raise _signature_refused(
            f"Request date header {value!r} is more than 15 minutes from the server's time."
        )
