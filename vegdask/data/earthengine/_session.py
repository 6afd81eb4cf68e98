"""The Earth Engine session: initialised once per process, credentials never logged."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

__all__ = ["EarthEngineAuthError", "import_ee", "initialize_earthengine", "redact"]


logger = logging.getLogger(__name__)

_AUTH_HELP = (
    "Authenticate once with `earthengine authenticate` on the command line (or "
    "`ee.Authenticate()` in Python), or point GOOGLE_APPLICATION_CREDENTIALS at a service-account "
    "key file, and pass project=<your Google Cloud project registered for Earth Engine> "
    "(`[source] project = ...` in a job config)."
)


class EarthEngineAuthError(RuntimeError):
    """Earth Engine could not be initialised: no credentials, or no usable project."""


def import_ee() -> Any:
    try:
        import ee
    except ImportError as err:
        raise ImportError(
            "the Earth Engine source needs the earthengine-api package: pip install 'vegdask[gee]'"
        ) from err
    return ee


_SECRETS = (
    re.compile(r"ya29\.[0-9A-Za-z_\-.]+"),  # OAuth access tokens
    re.compile(r"1//[0-9A-Za-z_\-]+"),  # OAuth refresh tokens
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(
        r"(?i)([\"']?(?:access_token|refresh_token|id_token|client_secret|private_key(?:_id)?)"
        r"[\"']?\s*[:=]\s*)[\"']?[^\"',}\s]+[\"']?"
    ),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a token or key replaced by ``<redacted>``."""
    for pattern in _SECRETS:
        text = pattern.sub(
            lambda m: (m.group(1) if m.re.groups else "") + "<redacted>",
            text,
        )
    return text


_INIT_LOCK = threading.Lock()


def initialize_earthengine(project: str | None = None) -> None:
    """Initialise Earth Engine in this process, once; later calls return at once.

    Called by every Scene task, so each dask worker initialises itself (the Earth Engine client's
    state is per process). Credentials come from ``earthengine authenticate`` /
    ``ee.Authenticate()`` or Application Default Credentials (e.g. a service-account key in
    ``GOOGLE_APPLICATION_CREDENTIALS``); they are never logged.

    Parameters
    ----------
    project : str, optional
        The Google Cloud project to bill Earth Engine requests to. Without it, the credentials'
        quota project is used if they have one.

    Raises
    ------
    EarthEngineAuthError
        With instructions, if there are no credentials or no usable project.
    ImportError
        If earthengine-api is not installed.
    """
    ee = import_ee()
    with _INIT_LOCK:
        if ee.data.is_initialized() and project in (None, _current_project(ee)):
            return
        try:
            ee.Initialize(project=project)
        except Exception as err:  # credentials, project and transport errors alike
            reason = redact(str(err).strip().splitlines()[0] if str(err).strip() else "")
            raise EarthEngineAuthError(
                f"Earth Engine could not be initialised ({type(err).__name__}: {reason}). "
                f"{_AUTH_HELP}"
            ) from None
        logger.debug("Earth Engine initialised (project %s)", project)


def _current_project(ee: Any) -> str | None:
    try:
        return ee.data._get_state().cloud_api_user_project
    except AttributeError:  # pragma: no cover - a future client without the private state
        return None
