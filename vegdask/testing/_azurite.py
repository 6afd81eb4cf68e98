"""Run Azurite, Microsoft's Azure Storage emulator (blob service), for tests and offline trials."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import fsspec
    import xarray as xr

__all__ = ["AZURITE_ACCOUNT_KEY", "AZURITE_ACCOUNT_NAME", "Azurite", "find_azurite"]

AZURITE_ACCOUNT_NAME = "devstoreaccount1"
# Azurite's published development key (not a secret).
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def find_azurite() -> str:
    """The ``azurite-blob`` executable: ``$VEGDASK_AZURITE``, ``./.azurite/`` or the PATH.

    Raises
    ------
    FileNotFoundError
        Saying how to install it.
    """
    candidates = [
        os.environ.get("VEGDASK_AZURITE"),
        str(Path.cwd() / ".azurite" / "node_modules" / ".bin" / "azurite-blob"),
        shutil.which("azurite-blob"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise FileNotFoundError(
        "azurite-blob not found: run `npm install --prefix .azurite azurite` (make test does) "
        "or set VEGDASK_AZURITE to its path"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Azurite:
    """An Azurite blob service on a free 127.0.0.1 port with a temporary data folder.

    Use as a context manager; ``connection_string`` and the account name and key connect to it.
    The process (and its process group) is stopped on exit.
    """

    def __init__(self, executable: str | None = None, *, startup_timeout: float = 30.0):
        self.executable = executable or find_azurite()
        self.startup_timeout = startup_timeout
        self.account_name = AZURITE_ACCOUNT_NAME
        self.account_key = AZURITE_ACCOUNT_KEY
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def blob_endpoint(self) -> str:
        """The blob service URL of the account."""
        return f"http://127.0.0.1:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        """A connection string for azure-storage-blob and adlfs."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """The blob filesystem vegdask uses, on this service, without a listings cache.

        Unlike adlfs' own, it closes its clients quietly when collected: adlfs' finalizers of a
        filesystem zarr made print "Loop is not running" at exit (fsspec/adlfs#495).
        """
        from vegdask.data.storage import filesystem

        options = {"connection_string": self.connection_string, "use_listings_cache": False}
        return filesystem("abfs://", options=options)[0]

    def open_zarr(self, url: str) -> xr.Dataset:
        """The store at ``url`` (``abfs://container/path``), read by xarray's ``open_zarr``."""
        import xarray as xr

        fs = self.filesystem()
        return xr.open_zarr(fs.get_mapper(fs._strip_protocol(url)), consolidated=False)

    def start(self) -> Azurite:
        """Start the service and wait until it answers."""
        self.port = _free_port()
        self._folder = tempfile.TemporaryDirectory(prefix="vegdask-azurite-")
        self._process = subprocess.Popen(
            [
                self.executable, "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                "--location", self._folder.name, "--silent", "--skipApiVersionCheck", "--loose",
                "--disableTelemetry",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                self.stop()
                raise RuntimeError(f"Azurite exited at start-up: {err.strip()[-500:]}")
            try:
                urllib.request.urlopen(f"{self.blob_endpoint}?comp=list", timeout=1)
            except urllib.error.HTTPError:
                return self  # it answers (403 without a signature is an answer)
            except OSError:
                time.sleep(0.2)
            else:
                return self
        self.stop()
        raise TimeoutError(f"Azurite did not answer within {self.startup_timeout} s")

    def stop(self) -> None:
        """Stop the service (its whole process group) and remove its data."""
        if self._process is not None:
            if self._process.poll() is None:
                os.killpg(self._process.pid, signal.SIGTERM)
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self._process.pid, signal.SIGKILL)
                    self._process.wait()
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
