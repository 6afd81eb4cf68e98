"""`BatchEmulator`: a local Azure Batch account; starts and stops its server and its loop."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from vegdask.batch_emulator._rest import BatchServer
from vegdask.batch_emulator._scheduler import step
from vegdask.batch_emulator._state import State
from vegdask.batch_emulator._tls import serve_tls

__all__ = ["BatchEmulator"]

_TICK = 0.05


class BatchEmulator:
    """A local Azure Batch account for tests and offline trials, for the ``azure-batch`` client.

    Parameters
    ----------
    account_name, account_key
        Shared-key credentials the server checks (a random base64 key by default).
    port
        TCP port on 127.0.0.1 (0 picks a free one).
    allocation_delay
        Seconds a new node takes from a resize to being ready.
    root
        Directory holding the nodes' files (a temporary directory, removed on stop, by default).
    tokens
        Entra ID access tokens accepted as ``Authorization: Bearer <token>`` (none by default);
        any other bearer token gets ``401 AuthenticationFailed``. Shared key works either way.
        `ManagedIdentityEndpoint` serves such a token to ``azure-identity``.
    tls
        Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (`ca_file`) instead of
        HTTP. ``azure-core`` sends bearer tokens only over ``https://``, so the Entra ID path
        needs it (and the client must trust `ca_file`, e.g. through ``REQUESTS_CA_BUNDLE``).

    Examples
    --------
    >>> from azure.batch import BatchClient
    >>> from azure.core.credentials import AzureNamedKeyCredential
    >>> with BatchEmulator() as emu:
    ...     key = AzureNamedKeyCredential(emu.account_name, emu.account_key)
    ...     [p.id for p in BatchClient(emu.url, key).list_pools()]
    []
    """

    def __init__(
        self,
        account_name: str = "vegdaskemulator",
        account_key: str | None = None,
        *,
        port: int = 0,
        allocation_delay: float = 0.0,
        root: str | os.PathLike | None = None,
        tokens: Iterable[str] = (),
        tls: bool = False,
    ) -> None:
        self.account_name = account_name
        self.tokens = frozenset(tokens)
        self.tls = tls
        self._tls_dir: str | None = None
        self.account_key = account_key or base64.b64encode(secrets.token_bytes(32)).decode()
        self.allocation_delay = allocation_delay
        self._port = port
        self._root_arg = root
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._server: BatchServer | None = None
        self._loop_thread: threading.Thread | None = None
        self._state: State | None = None
        self._tmp: str | None = None

    @property
    def url(self) -> str:
        """The account URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use it in `with`")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.port}"

    @property
    def ca_file(self) -> str:
        """The PEM certificate a client must trust to reach a ``tls=True`` emulator."""
        if self._tls_dir is None:
            raise RuntimeError("no certificate: the emulator is not running with tls=True")
        return os.path.join(self._tls_dir, "cert.pem")

    def start(self) -> BatchEmulator:
        """Start the HTTP server and the scheduling loop."""
        if self._root_arg is None:
            self._tmp = tempfile.mkdtemp(prefix="vegdask-batch-")
            root = Path(self._tmp)
        else:
            root = Path(self._root_arg)
        self._server = BatchServer(
            self._port,
            account_name=self.account_name,
            account_key=self.account_key,
            tokens=self.tokens,
            lock=self._lock,
        )
        if self.tls:
            self._tls_dir = tempfile.mkdtemp(prefix="vegdask-batch-tls-")
            serve_tls(self._server, Path(self._tls_dir))
        self._state = self._server.state = State(
            self.url, self.account_name, root, self.allocation_delay
        )
        self._stop.clear()
        self._server.serve_in_thread()
        self._loop_thread = threading.Thread(target=self._loop, daemon=True)
        self._loop_thread.start()
        return self

    @property
    def _running(self) -> State:
        """The service's state; an error if the emulator is not running."""
        if self._state is None:
            raise RuntimeError("the emulator is not running; call start() or use it in `with`")
        return self._state

    def stop(self) -> None:
        """Kill every process the emulator started and stop the server."""
        if self._server is None:
            return
        self._stop.set()
        if self._loop_thread is not None:
            self._loop_thread.join()
        with self._lock:
            self._running.kill_all()
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    def __enter__(self) -> BatchEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def preempt(self, pool_id: str, node_id: str | None = None) -> str:
        """Preempt a low-priority node (the busiest one unless ``node_id``); return its id.

        Its running tasks are killed and requeued (state active, ``requeueCount`` + 1), as Batch
        does; the pool then allocates a replacement node to meet its target.
        """
        with self._lock:
            return self._running.preempt(pool_id, node_id)

    def pids(self) -> list[int]:
        """Process ids of every task and start task currently running."""
        with self._lock:
            runs = [
                run
                for nodes in self._running.nodes.values()
                for node in nodes.values()
                for run in [node.start_run, *node.tasks.values()]
                if run is not None
            ]
            return [run.popen.pid for run in runs]

    def _loop(self) -> None:
        while not self._stop.wait(_TICK):
            with self._lock:
                step(self._running)
