"""Batch authentication: the shared-key signature and Entra ID bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Mapping
from urllib.parse import parse_qs, urlparse

from vegdask.batch_emulator._protocol import EmulatorError

__all__ = ["authenticate", "sign"]

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
    headers: Mapping[str, str],
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
        raise EmulatorError(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization "
            "header is correctly formed including the signature.",
        )
