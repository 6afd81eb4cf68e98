"""Keeping tokens out of messages and logs: URLs lose their query strings."""

from __future__ import annotations

import logging
import re
import urllib.parse

__all__ = ["messages", "quiet_loggers", "redact", "strip_query"]


_URL_QUERY = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'\"]*)\?[^\s'\"]*")

# A query string holding a signature, also after a partial URL (GDAL shortens URLs in messages).
_SIGNED_QUERY = re.compile(r"\?[^\s'\"]*\bsig=[^\s'\"]*", re.IGNORECASE)

_SIGNATURE = re.compile(r"\bsig=[^&\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove query strings (SAS tokens) from every URL in ``text``.

    Examples
    --------
    >>> redact("cannot open https://a.blob.core.windows.net/c/x.tif?sv=1&sig=abc (403)")
    'cannot open https://a.blob.core.windows.net/c/x.tif (403)'
    >>> redact("msg='x.tif?st=2026&sig=abc%3D band 1: read failed'")
    "msg='x.tif band 1: read failed'"
    """
    text = _SIGNED_QUERY.sub("", _URL_QUERY.sub(r"\1", str(text)))
    return _SIGNATURE.sub("sig=<redacted>", text)


def strip_query(url: str) -> str:
    """``url`` without its query string and fragment.

    Examples
    --------
    >>> strip_query("http://host/acct/c/catalog.json?sv=2024&sig=secret")
    'http://host/acct/c/catalog.json'
    """
    parts = urllib.parse.urlsplit(str(url))
    if not parts.scheme or len(parts.scheme) == 1:  # a local path (or a Windows drive letter)
        return str(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def messages(err: BaseException) -> str:
    """The messages of an exception and its causes (rasterio hides GDAL's reason in a cause)."""
    seen: list[str] = []
    current: BaseException | None = err
    while current is not None and len(seen) < 5:
        text = str(current).strip()
        if text and text not in seen:
            seen.append(text)
        current = current.__cause__ or current.__context__
    return " <- ".join(seen)


class _RedactingFilter(logging.Filter):
    """Redact URLs' query strings (tokens) in log records of the reading libraries."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_LOGGER_PREFIXES = ("rasterio", "odc", "pystac", "urllib3")

_filtered_loggers: set[str] = set()


def quiet_loggers() -> None:
    """Attach the redacting filter (once) to every logger that may print a signed URL.

    Filters do not apply to child loggers, so every existing ``rasterio.*``, ``odc.*``,
    ``pystac*`` and ``urllib3.*`` logger gets its own.
    """
    for name in list(logging.root.manager.loggerDict):
        if name in _filtered_loggers or not name.startswith(_LOGGER_PREFIXES):
            continue
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
        _filtered_loggers.add(name)
