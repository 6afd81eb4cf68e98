"""The local processes of a node: a task's command line, its resource files, its environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = ["Run", "download", "spawn"]


@dataclass
class Run:
    """One process the emulator started (a task or a start task)."""

    popen: subprocess.Popen
    started: float
    deadline: float | None
    files: tuple[Any, Any]

    def kill(self) -> None:
        """Kill the process group and close the output files."""
        # the whole process group, even when its leader has exited and left children behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        for handle in self.files:
            handle.close()


def spawn(
    command: str, task_dir: Path, workdir: Path, env: dict[str, str], wall: float | None
) -> Run:
    """Run ``command`` with ``/bin/sh -c`` in its own session, output to ``task_dir``."""
    out = open(task_dir / "stdout.txt", "ab")  # noqa: SIM115 - closed by Run.kill
    err = open(task_dir / "stderr.txt", "ab")  # noqa: SIM115
    popen = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    started = time.monotonic()
    return Run(popen, started, None if wall is None else started + wall, (out, err))


def download(resource_files: list | None, workdir: Path) -> None:
    """Fetch a task's ``resourceFiles`` (``httpUrl`` -> ``filePath``) into its working directory."""
    for item in resource_files or []:
        target = workdir / (item.get("filePath") or Path(urlparse(item["httpUrl"]).path).name)
        if ".." in Path(item.get("filePath") or "").parts:
            raise OSError(f"resource file path outside the working directory: {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(item["httpUrl"], timeout=60) as response:
            target.write_bytes(response.read())
