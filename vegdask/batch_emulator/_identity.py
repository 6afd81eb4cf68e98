"""A local managed-identity token endpoint, App Service style, for trying Entra ID auth offline.

``azure.identity.ManagedIdentityCredential`` (and so ``DefaultAzureCredential``) uses the App
Service managed identity when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set (and
``IDENTITY_SERVER_THUMBPRINT`` is not): MSAL then sends ``GET {IDENTITY_ENDPOINT}?api-version=
2019-08-01&resource=...`` with the header ``X-IDENTITY-HEADER: {IDENTITY_HEADER}`` and reads
``access_token`` and ``expires_on`` (epoch seconds) from the JSON reply. Plain ``http://`` on
127.0.0.1 is accepted there. `ManagedIdentityEndpoint` answers such requests with a fixed token.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from vegdask.batch_emulator._http import LocalHandler, LocalServer

__all__ = ["BATCH_RESOURCE", "ManagedIdentityEndpoint", "TokenRequest"]

#: The resource the ``azure-batch`` client asks tokens for: its scope
#: ``https://batch.core.windows.net//.default`` without ``/.default``.
BATCH_RESOURCE = "https://batch.core.windows.net/"
_PATH = "/msi/token"


@dataclass(frozen=True)
class TokenRequest:
    """One request the endpoint received: its resource, API version and whether it was served."""

    resource: str | None
    api_version: str | None
    secret_ok: bool
    status: int


class _Handler(LocalHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names them so
        endpoint = self.server.endpoint
        path, query = self.target()
        resource, version = query.get("resource"), query.get("api-version")
        secret = self.headers.get("x-identity-header") or ""
        secret_ok = secrets.compare_digest(secret.encode(), endpoint.secret.encode())
        if path != _PATH:
            status, body = 404, {"statusCode": 404, "message": f"no such path: {path}"}
        elif not secret_ok:
            status, body = 401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing/wrong"}
        elif not version:
            status, body = 400, {"statusCode": 400, "message": "api-version is required"}
        elif resource not in endpoint.resources:
            status, body = 400, {"statusCode": 400, "message": f"unknown resource {resource!r}"}
        else:
            expires_on = int(time.time() + endpoint.expires_in)
            status, body = (
                200,
                {
                    "access_token": endpoint.token,
                    "expires_on": str(expires_on),  # App Service gives epoch seconds as a string
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": endpoint.client_id,
                },
            )
        with endpoint._lock:
            endpoint.requests.append(TokenRequest(resource, version, secret_ok, status))
        data = json.dumps(body).encode()
        self.send(status, data, {"Content-Type": "application/json; charset=utf-8"})


class _Server(LocalServer):
    endpoint: ManagedIdentityEndpoint


class ManagedIdentityEndpoint:
    """An App-Service-style managed identity endpoint on 127.0.0.1 that hands out one token.

    Set `env` in the environment (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``) and
    ``azure.identity.ManagedIdentityCredential`` or ``DefaultAzureCredential`` get `token` from it.
    Give the same token to ``BatchEmulator(tokens=[...])`` and the ``azure-batch`` client
    authenticates to the emulator with Entra ID, offline.

    Parameters
    ----------
    token
        The access token served (a random one by default).
    resources
        Resources a token may be requested for (default: Azure Batch's); others get a 400.
    secret
        The ``IDENTITY_HEADER`` value requests must carry (random by default); others get a 401.
    expires_in
        Seconds until a served token expires (MSAL treats < 300 s as expired).
    port
        TCP port on 127.0.0.1 (0 picks a free one).

    Attributes
    ----------
    requests : list of TokenRequest
        Every request received, in order.

    Examples
    --------
    >>> import json, urllib.request
    >>> with ManagedIdentityEndpoint("tok") as mi:
    ...     url = mi.env["IDENTITY_ENDPOINT"] + "?api-version=2019-08-01&resource=" + BATCH_RESOURCE
    ...     request = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": mi.secret})
    ...     reply = json.load(urllib.request.urlopen(request))
    >>> reply["access_token"], reply["token_type"], mi.requests[0].resource
    ('tok', 'Bearer', 'https://batch.core.windows.net/')
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        resources: Iterable[str] = (BATCH_RESOURCE,),
        secret: str | None = None,
        expires_in: float = 3600.0,
        port: int = 0,
    ) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.resources = frozenset(resources)
        self.secret = secret or secrets.token_hex(16)
        self.expires_in = expires_in
        self.client_id = "00000000-0000-0000-0000-00000000e417"
        self.requests: list[TokenRequest] = []
        self._port = port
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The token endpoint, ``http://127.0.0.1:PORT/msi/token``."""
        if self._server is None:
            raise RuntimeError("the endpoint is not running; call start() or use it in `with`")
        return f"http://127.0.0.1:{self._server.port}{_PATH}"

    @property
    def env(self) -> dict[str, str]:
        """``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` for azure-identity."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}

    def start(self) -> ManagedIdentityEndpoint:
        """Start serving tokens."""
        self._server = _Server(self._port, _Handler)
        self._server.endpoint = self
        self._thread = self._server.serve_in_thread(poll_interval=0.05)
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ManagedIdentityEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
