"""The Batch REST API over the state: requests in, authenticated and routed; Batch's replies out."""

from __future__ import annotations

import json
import secrets
import ssl
import sys
import threading
import uuid
from collections.abc import Collection
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

from vegdask.batch_emulator._auth import authenticate
from vegdask.batch_emulator._http import LocalHandler, LocalServer
from vegdask.batch_emulator._protocol import EmulatorError, matches, timestamp
from vegdask.batch_emulator._state import State

__all__ = ["BatchServer"]

_ERROR_METADATA = "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"


class BatchServer(LocalServer):
    """The emulator's HTTP server: its credentials, its lock and the `State` it serves."""

    def __init__(
        self,
        port: int,
        *,
        account_name: str,
        account_key: str,
        tokens: Collection[str],
        lock: threading.RLock,
    ) -> None:
        super().__init__(port, _Handler)
        self.account_name, self.account_key, self.tokens = account_name, account_key, tokens
        self.lock = lock
        self.state: State  # set by the emulator before it serves

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Report a failed request, except a client that left or did not trust the certificate."""
        # A client that goes away mid-request (a finished task's process), or one that does not
        # trust the TLS certificate, is not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


class _Handler(LocalHandler):
    server: BatchServer

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names them so
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names them so
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names them so
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names them so
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler names them so
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        server = self.server
        request_id = str(uuid.uuid4())
        try:
            raw = self.read_body()
            authenticate(
                method,
                f"http://{self.headers.get('host', '')}{self.path}",
                self.headers,
                account_name=server.account_name,
                account_key=server.account_key,
                tokens=server.tokens,
            )
            path, query = self.target()
            if "api-version" not in query:
                raise EmulatorError(400, "MissingRequiredQueryParameter", "api-version is required")
            body = json.loads(raw) if raw else {}
            parts = [unquote(p) for p in path.strip("/").split("/") if p]
            with server.lock:
                status, payload = route(server.state, method, parts, query, body)
        except EmulatorError as err:
            status = err.status
            payload = {
                "odata.metadata": f"{server.state.url}/$metadata#{_ERROR_METADATA}",
                "code": err.code,
                "message": {
                    "lang": "en-US",
                    "value": f"{err.message}\nRequestId:{request_id}\nTime:{timestamp()}",
                },
            }
            if err.values:
                payload["values"] = [{"key": k, "value": v} for k, v in err.values.items()]
        except (ValueError, KeyError, TypeError) as err:
            status = 400
            payload = {
                "code": "InvalidRequestBody",
                "message": {"lang": "en-US", "value": f"{type(err).__name__}: {err}"},
            }
        self._reply(status, payload, request_id)

    def _reply(self, status: int, payload: Any, request_id: str) -> None:
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif payload is None:
            data, ctype = b"", None
        else:
            data = json.dumps(payload).encode()
            ctype = "application/json;odata=minimalmetadata"
        headers = {
            "request-id": request_id,
            "Date": formatdate(usegmt=True),
            "Last-Modified": formatdate(usegmt=True),
            "ETag": f'"0x{secrets.token_hex(8).upper()}"',
            "DataServiceVersion": "3.0",
        }
        if ctype:
            headers["Content-Type"] = ctype
        self.send(status, data, headers)


def route(
    state: State, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]
) -> tuple[int, Any]:
    """Serve one Batch REST request: its status and JSON payload (bytes for a file, or None)."""
    match (method, *parts):
        case ("GET", "pools"):
            pools = [state.pool_json(p) for p in state.pools]
            return 200, {"value": [p for p in pools if matches(p, query.get("$filter"))]}
        case ("POST", "pools"):
            state.create_pool(body)
            return 201, None
        case ("GET", "pools", pool_id):
            return 200, state.pool_json(pool_id)
        case ("DELETE", "pools", pool_id):
            state.delete_pool(pool_id)
            return 202, None
        case ("POST", "pools", pool_id, "resize"):
            state.resize_pool(pool_id, body)
            return 202, None
        case ("POST", "pools", pool_id, "removenodes"):
            state.remove_nodes(pool_id, body)
            return 202, None
        case ("POST", "pools", pool_id, "enableautoscale"):
            pool = state.pool(pool_id)
            pool.update(enableAutoScale=True, autoScaleFormula=body.get("autoScaleFormula"))
            return 200, None
        case ("POST", "pools", pool_id, "disableautoscale"):
            state.pool(pool_id)["enableAutoScale"] = False
            return 200, None
        case ("GET", "pools", pool_id, "nodes"):
            slots = state.pool(pool_id)["taskSlotsPerNode"]
            nodes = [n.to_json(state.url, slots) for n in state.nodes[pool_id].values()]
            return 200, {"value": [n for n in nodes if matches(n, query.get("$filter"))]}
        case ("GET", "pools", pool_id, "nodes", node_id):
            slots = state.pool(pool_id)["taskSlotsPerNode"]
            return 200, state.node(pool_id, node_id).to_json(state.url, slots)
        case ("POST", "emulator", "pools", pool_id, "preempt"):
            return 200, {"nodeId": state.preempt(pool_id, body.get("nodeId"))}
        case ("GET", "jobs"):
            jobs = [j for j in state.jobs.values() if matches(j, query.get("$filter"))]
            return 200, {"value": jobs}
        case ("POST", "jobs"):
            state.create_job(body)
            return 201, None
        case ("GET", "jobs", job_id):
            return 200, state.job(job_id)
        case ("DELETE", "jobs", job_id):
            state.delete_job(job_id)
            return 202, None
        case ("POST", "jobs", job_id, "terminate"):
            state.terminate_job(job_id, body)
            return 202, None
        case ("GET", "jobs", job_id, "taskcounts"):
            return 200, state.task_counts(job_id)
        case ("GET", "jobs", job_id, "tasks"):
            state.job(job_id)
            tasks = [state.task_json(t) for t in state.tasks[job_id].values()]
            return 200, {"value": [t for t in tasks if matches(t, query.get("$filter"))]}
        case ("POST", "jobs", job_id, "tasks"):
            state.add_task(job_id, body)
            return 201, None
        case ("POST", "jobs", job_id, "addtaskcollection"):
            return 200, {"value": [_add_one(state, job_id, t) for t in body.get("value", [])]}
        case ("GET", "jobs", job_id, "tasks", task_id):
            return 200, state.task_json(state.task(job_id, task_id))
        case ("DELETE", "jobs", job_id, "tasks", task_id):
            state.delete_task(job_id, task_id)
            return 200, None
        case ("POST", "jobs", job_id, "tasks", task_id, "terminate"):
            state.terminate_task(job_id, task_id)
            return 204, None
        case ("GET", "jobs", job_id, "tasks", task_id, "files", *path):
            return 200, _task_file(state, job_id, task_id, path)
    raise EmulatorError(
        404, "ResourceNotFound", f"{method} /{'/'.join(parts)} is not supported here"
    )


def _add_one(state: State, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        state.add_task(job_id, body)
    except EmulatorError as err:
        return {
            "status": "clienterror",
            "taskId": body.get("id"),
            "error": {"code": err.code, "message": {"lang": "en-US", "value": err.message}},
        }
    return {"status": "success", "taskId": body["id"]}


def _task_file(state: State, job_id: str, task_id: str, parts: list[str]) -> bytes:
    """A file below the task's directory; absolute, encoded-separator and ``..`` paths refused."""
    path = "/".join(parts)
    if not parts or any(p in (".", "..") or set(p) & {"/", "\\", "\0", ":"} for p in parts):
        raise EmulatorError(
            400, "InvalidUri", f"The file path is not a task's relative path: {path}"
        )
    task = state.task(job_id, task_id)
    node_info = task.get("nodeInfo")
    node = state.nodes.get(node_info["poolId"], {}).get(node_info["nodeId"]) if node_info else None
    if node is None or node_info is None:
        raise EmulatorError(404, "FileNotFound", f"The specified file does not exist: {path}")
    root = (node.root / node_info["taskRootDirectory"]).resolve()
    target = root.joinpath(*parts).resolve()
    if not target.is_relative_to(root) or not target.is_file():  # no symlinks out of it either
        raise EmulatorError(404, "FileNotFound", f"The specified file does not exist: {path}")
    return target.read_bytes()
