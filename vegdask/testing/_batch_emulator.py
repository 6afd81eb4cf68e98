"""A local Azure Batch service: the REST subset a Dask adapter needs, running real processes.

`BatchEmulator` is an HTTP server on 127.0.0.1 that the real ``azure-batch`` client (15.x) talks to
with shared-key authentication, or with Entra ID bearer tokens it was given (served over HTTPS with
a throwaway certificate when ``tls=True``). Pools have nodes with task slots; a task's command line
runs as a local process (``/bin/sh -c``, its own process group, a per-task working directory, the
``AZ_BATCH_*`` variables of a real node); the start task runs once per node before its tasks;
``maxTaskRetryCount`` and ``maxWallClockTime`` are honoured; low-priority nodes can be preempted
(running tasks killed and requeued). Every process it started is killed when it stops.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

__all__ = ["BatchEmulator", "EmulatorError"]

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
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_TICK = 0.05
_BAD_TOKEN = "The access token is not one this Batch account accepts (see BatchEmulator tokens)."
_ERROR_METADATA = "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"


class EmulatorError(Exception):
    """A Batch error: HTTP status, Batch error code, message and optional ``values`` details."""

    def __init__(
        self, status: int, code: str, message: str, values: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.values = values or {}


def _now() -> str:
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


@dataclass
class _Run:
    """One process the emulator started (a task or a start task)."""

    popen: subprocess.Popen
    started: float
    deadline: float | None
    files: tuple[Any, Any]

    def kill(self) -> None:
        # the whole process group, even when its leader has exited and left children behind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        for handle in self.files:
            handle.close()


@dataclass
class _Node:
    id: str
    pool_id: str
    dedicated: bool
    ready_at: float
    root: Path
    state: str = "creating"
    start_task: dict[str, Any] = field(default_factory=dict)
    start_run: _Run | None = None
    tasks: dict[tuple[str, str], _Run] = field(default_factory=dict)
    leaving: str | None = None
    total_run: int = 0

    def to_json(self, url: str, slots: int) -> dict[str, Any]:
        busy = len(self.tasks)
        return {
            "id": self.id,
            "url": f"{url}/pools/{self.pool_id}/nodes/{self.id}",
            "state": "leavingpool" if self.leaving else self.state,
            "schedulingState": "enabled",
            "isDedicated": self.dedicated,
            "ipAddress": "127.0.0.1",
            "runningTasksCount": busy,
            "runningTaskSlotsCount": busy,
            "totalTasksRun": self.total_run,
            "startTaskInfo": self.start_task or None,
            "taskSlotsPerNode": slots,
        }


class _State:
    """Pools, nodes, jobs and tasks; every method is called with the lock held."""

    def __init__(self, url: str, account: str, root: Path, allocation_delay: float) -> None:
        self.url, self.account, self.root = url, account, root
        self.allocation_delay = allocation_delay
        self.pools: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, _Node]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, dict[str, Any]]] = {}
        self.counter = 0

    # -- pools and nodes ---------------------------------------------------------------
    def create_pool(self, body: dict[str, Any]) -> None:
        pool_id = _required(body, "id")
        if pool_id in self.pools:
            raise EmulatorError(409, "PoolExists", "The specified pool already exists.")
        pool = {
            "id": pool_id,
            "url": f"{self.url}/pools/{pool_id}",
            "vmSize": body.get("vmSize", "standard_a1_v2"),
            "state": "active",
            "allocationState": "steady",
            "creationTime": _now(),
            "taskSlotsPerNode": int(body.get("taskSlotsPerNode") or 1),
            "targetDedicatedNodes": int(body.get("targetDedicatedNodes") or 0),
            "targetLowPriorityNodes": int(body.get("targetLowPriorityNodes") or 0),
            "enableAutoScale": bool(body.get("enableAutoScale", False)),
            "autoScaleFormula": body.get("autoScaleFormula"),
            "startTask": body.get("startTask"),
            "virtualMachineConfiguration": body.get("virtualMachineConfiguration"),
            "nodeDeallocationOption": "requeue",
        }
        self.pools[pool_id] = pool
        self.nodes[pool_id] = {}
        self.reconcile_pool(pool)

    def pool(self, pool_id: str) -> dict[str, Any]:
        if pool_id not in self.pools:
            raise EmulatorError(404, "PoolNotFound", "The specified pool does not exist.")
        return self.pools[pool_id]

    def pool_json(self, pool_id: str) -> dict[str, Any]:
        pool = dict(self.pool(pool_id))
        nodes = [n for n in self.nodes[pool_id].values() if n.state != "creating"]
        pool["currentDedicatedNodes"] = sum(n.dedicated for n in nodes)
        pool["currentLowPriorityNodes"] = sum(not n.dedicated for n in nodes)
        pool.pop("nodeDeallocationOption")
        return pool

    def resize_pool(self, pool_id: str, body: dict[str, Any]) -> None:
        pool = self.pool(pool_id)
        if pool["enableAutoScale"]:
            raise EmulatorError(
                409, "AutoScaleEnabled", "Resize is not allowed while autoscale is enabled."
            )
        for key in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if body.get(key) is not None:
                pool[key] = int(body[key])
        pool["nodeDeallocationOption"] = body.get("nodeDeallocationOption") or "requeue"
        self.reconcile_pool(pool)

    def reconcile_pool(self, pool: dict[str, Any]) -> None:
        """Add or mark for removal nodes until the pool matches its targets."""
        nodes = self.nodes[pool["id"]]
        for dedicated, key in ((True, "targetDedicatedNodes"), (False, "targetLowPriorityNodes")):
            mine = [n for n in nodes.values() if n.dedicated == dedicated and not n.leaving]
            missing = pool[key] - len(mine)
            for _ in range(max(missing, 0)):
                self.counter += 1
                node_id = f"tvmps_{self.counter:04d}_{'d' if dedicated else 'p'}"
                nodes[node_id] = _Node(
                    node_id,
                    pool["id"],
                    dedicated,
                    time.monotonic() + self.allocation_delay,
                    self.root / "nodes" / node_id,
                )
            # fewest running tasks first, so idle nodes leave before busy ones
            for node in sorted(mine, key=lambda n: len(n.tasks))[: max(-missing, 0)]:
                node.leaving = pool["nodeDeallocationOption"]
        pool["allocationState"] = "resizing" if self._resizing(pool) else "steady"

    def _resizing(self, pool: dict[str, Any]) -> bool:
        return any(n.state == "creating" or n.leaving for n in self.nodes[pool["id"]].values())

    def remove_nodes(self, pool_id: str, body: dict[str, Any]) -> None:
        pool = self.pool(pool_id)
        option = body.get("nodeDeallocationOption") or "requeue"
        for node_id in body.get("nodeList") or []:
            node = self.node(pool_id, node_id)
            node.leaving = option
            key = "targetDedicatedNodes" if node.dedicated else "targetLowPriorityNodes"
            pool[key] = max(pool[key] - 1, 0)
        pool["allocationState"] = "resizing"

    def node(self, pool_id: str, node_id: str) -> _Node:
        self.pool(pool_id)
        if node_id not in self.nodes[pool_id]:
            raise EmulatorError(404, "NodeNotFound", "The specified node does not exist.")
        return self.nodes[pool_id][node_id]

    def delete_pool(self, pool_id: str) -> None:
        self.pool(pool_id)
        for node in list(self.nodes[pool_id].values()):
            self._drop_node(node, "requeue")
        del self.pools[pool_id], self.nodes[pool_id]

    def preempt(self, pool_id: str, node_id: str | None) -> str:
        """Preempt a low-priority node: kill and requeue its tasks; Batch later replaces it."""
        candidates = [
            n
            for n in self.nodes[self.pool(pool_id)["id"]].values()
            if not n.dedicated and (node_id is None or n.id == node_id)
        ]
        if node_id is not None and not candidates:
            raise EmulatorError(404, "NodeNotFound", f"no low-priority node {node_id!r}")
        if not candidates:
            raise EmulatorError(409, "NoLowPriorityNode", "the pool has no low-priority node")
        node = max(candidates, key=lambda n: len(n.tasks))
        self._drop_node(node, "requeue")
        del self.nodes[pool_id][node.id]
        self.reconcile_pool(self.pools[pool_id])
        return node.id

    def _drop_node(self, node: _Node, option: str) -> None:
        if node.start_run is not None:
            node.start_run.kill()
        for (job_id, task_id), run in list(node.tasks.items()):
            run.kill()
            task = self.tasks[job_id][task_id]
            if option == "terminate":
                self._complete(task, run, -1, "TaskEnded", "terminated by node removal")
            else:
                info = task["executionInfo"]
                info["requeueCount"] = info.get("requeueCount", 0) + 1
                self._set_state(task, "active")
                task.pop("nodeInfo", None)
        node.tasks.clear()

    # -- jobs and tasks ----------------------------------------------------------------
    def create_job(self, body: dict[str, Any]) -> None:
        job_id = _required(body, "id")
        if job_id in self.jobs:
            raise EmulatorError(409, "JobExists", "The specified job already exists.")
        pool_id = (body.get("poolInfo") or {}).get("poolId")
        if not pool_id:
            raise EmulatorError(400, "MissingRequiredProperty", "poolInfo.poolId is required")
        self.jobs[job_id] = {
            "id": job_id,
            "url": f"{self.url}/jobs/{job_id}",
            "state": "active",
            "creationTime": _now(),
            "stateTransitionTime": _now(),
            "poolInfo": {"poolId": pool_id},
            "priority": body.get("priority", 0),
            "executionInfo": {"startTime": _now(), "poolId": pool_id},
            "commonEnvironmentSettings": body.get("commonEnvironmentSettings") or [],
            "metadata": body.get("metadata") or [],
        }
        self.tasks[job_id] = {}

    def job(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise EmulatorError(404, "JobNotFound", "The specified job does not exist.")
        return self.jobs[job_id]

    def terminate_job(self, job_id: str, body: dict[str, Any]) -> None:
        job = self.job(job_id)
        if job["state"] == "completed":
            raise EmulatorError(409, "JobCompleted", "The specified job is already completed.")
        for task in self.tasks[job_id].values():
            if task["state"] != "completed":
                self.terminate_task(job_id, task["id"])
        job["state"] = "completed"
        job["stateTransitionTime"] = _now()
        job["executionInfo"]["endTime"] = _now()
        job["executionInfo"]["terminateReason"] = body.get("terminateReason") or "UserTerminate"

    def delete_job(self, job_id: str) -> None:
        self.job(job_id)
        for task in list(self.tasks[job_id].values()):
            if task["state"] != "completed":
                self.terminate_task(job_id, task["id"])
        del self.jobs[job_id], self.tasks[job_id]

    def add_task(self, job_id: str, body: dict[str, Any]) -> None:
        job = self.job(job_id)
        if job["state"] != "active":
            raise EmulatorError(409, "JobCompleted", "The specified job is already completed.")
        task_id = _required(body, "id")
        if task_id in self.tasks[job_id]:
            raise EmulatorError(409, "TaskExists", "The specified task already exists.")
        _required(body, "commandLine")
        constraints = dict(body.get("constraints") or {})
        constraints.setdefault("maxTaskRetryCount", 0)
        constraints.setdefault("maxWallClockTime", "P10675199DT2H48M5.4775807S")
        parse_duration(constraints["maxWallClockTime"])
        self.counter += 1
        self.tasks[job_id][task_id] = {
            "id": task_id,
            "url": f"{self.url}/jobs/{job_id}/tasks/{task_id}",
            "commandLine": body["commandLine"],
            "environmentSettings": body.get("environmentSettings") or [],
            "resourceFiles": body.get("resourceFiles") or [],
            "constraints": constraints,
            "state": "active",
            "creationTime": _now(),
            "stateTransitionTime": _now(),
            "executionInfo": {"retryCount": 0, "requeueCount": 0},
            "_order": self.counter,
        }

    def task(self, job_id: str, task_id: str) -> dict[str, Any]:
        self.job(job_id)
        if task_id not in self.tasks[job_id]:
            raise EmulatorError(404, "TaskNotFound", "The specified task does not exist.")
        return self.tasks[job_id][task_id]

    def terminate_task(self, job_id: str, task_id: str) -> None:
        task = self.task(job_id, task_id)
        if task["state"] == "completed":
            return
        node, run = self._running(job_id, task_id)
        if run is not None:
            run.kill()
            del node.tasks[(job_id, task_id)]
            self._complete(task, run, -1, "TaskEnded", "The task was terminated.")
        else:
            self._complete(task, None, None, "TaskEnded", "The task was terminated.")

    def delete_task(self, job_id: str, task_id: str) -> None:
        self.terminate_task(job_id, task_id)
        del self.tasks[job_id][task_id]

    def _running(self, job_id: str, task_id: str) -> tuple[_Node | None, _Run | None]:
        for nodes in self.nodes.values():
            for node in nodes.values():
                if (job_id, task_id) in node.tasks:
                    return node, node.tasks[(job_id, task_id)]
        return None, None

    def _set_state(self, task: dict[str, Any], state: str) -> None:
        task["previousState"], task["state"] = task["state"], state
        task["stateTransitionTime"] = _now()

    def _complete(
        self,
        task: dict[str, Any],
        run: _Run | None,
        exit_code: int | None,
        failure: str | None,
        message: str = "",
    ) -> None:
        info = task["executionInfo"]
        info["endTime"] = _now()
        if exit_code is not None:
            info["exitCode"] = exit_code
        info["result"] = "failure" if failure else "success"
        if failure:
            info["failureInfo"] = {"category": "usererror", "code": failure, "message": message}
        self._set_state(task, "completed")

    # -- the scheduling loop -----------------------------------------------------------
    def step(self) -> None:
        """Advance time: allocate nodes, run start tasks, reap processes, fill free slots."""
        now = time.monotonic()
        for pool_id, nodes in list(self.nodes.items()):
            pool = self.pools[pool_id]
            for node in list(nodes.values()):
                self._step_node(pool, node, now)
                if node.leaving and (node.leaving != "taskcompletion" or not node.tasks):
                    self._drop_node(node, node.leaving)
                    del nodes[node.id]
            pool["allocationState"] = "resizing" if self._resizing(pool) else "steady"
        self._schedule()

    def _step_node(self, pool: dict[str, Any], node: _Node, now: float) -> None:
        if node.state == "creating" and now >= node.ready_at:
            node.root.mkdir(parents=True, exist_ok=True)
            for sub in ("shared", "startup", "workitems"):
                (node.root / sub).mkdir(exist_ok=True)
            node.state = "idle"
            if pool["startTask"]:
                self._start_start_task(pool, node)
        if node.start_run is not None:
            self._reap_start_task(pool, node)
        for key, run in list(node.tasks.items()):
            self._reap_task(node, key, run, now)
        if node.state in ("idle", "running"):
            node.state = "running" if node.tasks else "idle"

    def _start_start_task(self, pool: dict[str, Any], node: _Node) -> None:
        spec = pool["startTask"]
        workdir = node.root / "startup" / "wd"
        workdir.mkdir(parents=True, exist_ok=True)
        env = self._env(pool["id"], node, spec.get("environmentSettings"))
        env["AZ_BATCH_TASK_DIR"] = str(node.root / "startup")
        env["AZ_BATCH_TASK_WORKING_DIR"] = str(workdir)
        try:
            _download(spec.get("resourceFiles"), workdir)
        except OSError as err:
            node.start_task = {"state": "completed", "result": "failure", "exitCode": -1}
            node.start_task["failureInfo"] = {
                "code": "ResourceFileDownloadFailed",
                "message": str(err),
            }
            node.state = "starttaskfailed"
            return
        node.start_run = _spawn(spec["commandLine"], node.root / "startup", workdir, env, None)
        retries = node.start_task.get("retryCount", -1) + 1 if node.start_task else 0
        node.start_task = {"state": "running", "startTime": _now(), "retryCount": retries}
        if spec.get("waitForSuccess", True):
            node.state = "starting"

    def _reap_start_task(self, pool: dict[str, Any], node: _Node) -> None:
        code = node.start_run.popen.poll()
        if code is None:
            return
        node.start_run.kill()
        node.start_run = None
        node.start_task.update(state="completed", exitCode=code, endTime=_now())
        node.start_task["result"] = "success" if code == 0 else "failure"
        spec = pool["startTask"]
        if code != 0 and node.start_task["retryCount"] < int(spec.get("maxTaskRetryCount") or 0):
            self._start_start_task(pool, node)
        elif spec.get("waitForSuccess", True):
            node.state = "idle" if code == 0 else "starttaskfailed"

    def _reap_task(self, node: _Node, key: tuple[str, str], run: _Run, now: float) -> None:
        task = self.tasks[key[0]][key[1]]
        code = run.popen.poll()
        if code is None and run.deadline is not None and now > run.deadline:
            run.kill()
            del node.tasks[key]
            self._complete(task, run, -1, "MaxWallClockTimeExceeded", "wall clock time exceeded")
            return
        if code is None:
            return
        run.kill()
        del node.tasks[key]
        info = task["executionInfo"]
        if code != 0 and info["retryCount"] < int(task["constraints"]["maxTaskRetryCount"]):
            info["retryCount"] += 1
            info["exitCode"] = code
            self._set_state(task, "active")
            return
        self._complete(task, run, code, "FailureExitCode" if code else None, f"exit code {code}")

    def _schedule(self) -> None:
        queue = sorted(
            (
                t
                for job_id, tasks in self.tasks.items()
                for t in tasks.values()
                if t["state"] == "active"
            ),
            key=lambda t: t["_order"],
        )
        for task in queue:
            job_id = task["url"].split("/jobs/")[1].split("/")[0]
            pool_id = self.jobs[job_id]["poolInfo"]["poolId"]
            if self.jobs[job_id]["state"] != "active" or pool_id not in self.pools:
                continue
            slots = self.pools[pool_id]["taskSlotsPerNode"]
            free = [
                n
                for n in self.nodes[pool_id].values()
                if n.state in ("idle", "running") and not n.leaving and len(n.tasks) < slots
            ]
            if free:
                self._start_task(job_id, task, min(free, key=lambda n: (len(n.tasks), n.id)))

    def _start_task(self, job_id: str, task: dict[str, Any], node: _Node) -> None:
        task_dir = node.root / "workitems" / job_id / "job-1" / task["id"]
        if task_dir.exists():
            shutil.rmtree(task_dir)
        workdir = task_dir / "wd"
        workdir.mkdir(parents=True)
        env = self._env(
            node.pool_id,
            node,
            [*self.jobs[job_id]["commonEnvironmentSettings"], *task["environmentSettings"]],
        )
        env.update(
            AZ_BATCH_JOB_ID=job_id,
            AZ_BATCH_TASK_ID=task["id"],
            AZ_BATCH_TASK_DIR=str(task_dir),
            AZ_BATCH_TASK_WORKING_DIR=str(workdir),
        )
        try:  # as on Batch: resource files are fetched before the command line runs
            _download(task["resourceFiles"], workdir)
        except OSError as err:
            self._complete(task, None, None, "ResourceFileDownloadFailed", str(err))
            return
        wall = parse_duration(task["constraints"]["maxWallClockTime"])
        first = "startTime" not in task["executionInfo"]
        run = _spawn(task["commandLine"], task_dir, workdir, env, wall)
        node.tasks[(job_id, task["id"])] = run
        node.total_run += 1
        node.state = "running"
        info = task["executionInfo"]
        info["startTime" if first else "lastRetryTime"] = _now()
        info.pop("endTime", None)
        info.pop("exitCode", None)
        task["nodeInfo"] = {
            "poolId": node.pool_id,
            "nodeId": node.id,
            "nodeUrl": f"{self.url}/pools/{node.pool_id}/nodes/{node.id}",
            "taskRootDirectory": f"workitems/{job_id}/job-1/{task['id']}",
            "taskRootDirectoryUrl": f"{self.url}/jobs/{job_id}/tasks/{task['id']}/files",
        }
        self._set_state(task, "running")

    def _env(self, pool_id: str, node: _Node, settings: list | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
        env.update(
            HOME=str(node.root),
            AZ_BATCH_ACCOUNT_NAME=self.account,
            AZ_BATCH_ACCOUNT_URL=self.url,
            AZ_BATCH_POOL_ID=pool_id,
            AZ_BATCH_NODE_ID=node.id,
            AZ_BATCH_NODE_IS_DEDICATED="true" if node.dedicated else "false",
            AZ_BATCH_NODE_ROOT_DIR=str(node.root),
            AZ_BATCH_NODE_SHARED_DIR=str(node.root / "shared"),
            AZ_BATCH_NODE_STARTUP_DIR=str(node.root / "startup"),
            AZ_BATCH_NODE_LIST="127.0.0.1",
        )
        for item in settings or []:
            env[item["name"]] = item.get("value") or ""
        return env

    def task_json(self, task: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in task.items() if not k.startswith("_")}

    def task_counts(self, job_id: str) -> dict[str, Any]:
        tasks = self.tasks[self.job(job_id)["id"]].values()
        counts = {"active": 0, "running": 0, "completed": 0, "succeeded": 0, "failed": 0}
        for task in tasks:
            state = "active" if task["state"] == "preparing" else task["state"]
            counts[state] += 1
            if state == "completed":
                ok = task["executionInfo"].get("result") == "success"
                counts["succeeded" if ok else "failed"] += 1
        return {"taskCounts": counts, "taskSlotCounts": dict(counts)}

    def kill_all(self) -> None:
        for nodes in self.nodes.values():
            for node in nodes.values():
                self._drop_node(node, "terminate")


def _spawn(
    command: str, task_dir: Path, workdir: Path, env: dict[str, str], wall: float | None
) -> _Run:
    out = open(task_dir / "stdout.txt", "ab")  # noqa: SIM115 - closed by _Run.kill
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
    now = time.monotonic()
    return _Run(popen, now, None if wall is None else now + wall, (out, err))


def _download(resource_files: list | None, workdir: Path) -> None:
    """Fetch a task's ``resourceFiles`` (``httpUrl`` -> ``filePath``) into its working directory."""
    for item in resource_files or []:
        target = workdir / (item.get("filePath") or Path(urlparse(item["httpUrl"]).path).name)
        if ".." in Path(item.get("filePath") or "").parts:
            raise OSError(f"resource file path outside the working directory: {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(item["httpUrl"], timeout=60) as response:
            target.write_bytes(response.read())


def _required(body: dict[str, Any], key: str) -> Any:
    if not body.get(key):
        raise EmulatorError(400, "MissingRequiredProperty", f"the property {key!r} is required")
    return body[key]


def _matches(item: dict[str, Any], odata_filter: str | None) -> bool:
    """Evaluate the OData filters the SDK users send: ``a eq 'x' and b ne 'y'`` clauses."""
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


def _self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server context with a new self-signed certificate for 127.0.0.1 in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vegdask Batch emulator")])
    now = datetime.now(UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "key.pem"
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", key_file)
    return context


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        emulator = self.server.emulator
        request_id = str(uuid.uuid4())
        try:
            self._authenticate(method)
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            if "api-version" not in query:
                raise EmulatorError(400, "MissingRequiredQueryParameter", "api-version is required")
            body = json.loads(raw) if raw else {}
            parts = [unquote(p) for p in parsed.path.strip("/").split("/") if p]
            with emulator._lock:
                status, payload = emulator._route(method, parts, query, body)
        except EmulatorError as err:
            status = err.status
            payload = {
                "odata.metadata": f"{emulator._state.url}/$metadata#{_ERROR_METADATA}",
                "code": err.code,
                "message": {
                    "lang": "en-US",
                    "value": f"{err.message}\nRequestId:{request_id}\nTime:{_now()}",
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

    def _authenticate(self, method: str) -> None:
        emulator = self.server.emulator
        given = self.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() == "bearer":
            # Entra ID: Batch answers a token it does not accept with 401 AuthenticationFailed
            # and the reason in an AuthenticationErrorDetail value.
            if not any(hmac.compare_digest(token.encode(), t.encode()) for t in emulator.tokens):
                raise EmulatorError(
                    401,
                    "AuthenticationFailed",
                    "Server failed to authenticate the request. Make sure the value of "
                    "Authorization header is formed correctly.",
                    {"AuthenticationErrorDetail": _BAD_TOKEN},
                )
            return
        url = f"http://{self.headers.get('host', '')}{self.path}"
        expected = sign(
            emulator.account_name, emulator.account_key, method, url, dict(self.headers)
        )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise EmulatorError(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization "
                "header is correctly formed including the signature.",
            )

    def _reply(self, status: int, payload: Any, request_id: str) -> None:
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif payload is None:
            data, ctype = b"", None
        else:
            data = json.dumps(payload).encode()
            ctype = "application/json;odata=minimalmetadata"
        self.send_response(status)
        self.send_header("request-id", request_id)
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Last-Modified", formatdate(usegmt=True))
        self.send_header("ETag", f'"0x{secrets.token_hex(8).upper()}"')
        self.send_header("DataServiceVersion", "3.0")
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: BatchEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (a finished task's process), or one that does not
        # trust the TLS certificate, is not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


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
        `vegdask.testing.ManagedIdentityEndpoint` serves such a token to ``azure-identity``.
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
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._state: _State | None = None
        self._tmp: str | None = None

    @property
    def url(self) -> str:
        """The account URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use it in `with`")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

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
        root = Path(self._root_arg or self._tmp)
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.emulator = self
        if self.tls:
            self._tls_dir = tempfile.mkdtemp(prefix="vegdask-batch-tls-")
            context = _self_signed_context(Path(self._tls_dir))
            # the handshake happens on the first read, in the request's own thread
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._state = _State(self.url, self.account_name, root, self.allocation_delay)
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Kill every process the emulator started and stop the server."""
        if self._server is None:
            return
        self._stop.set()
        for thread in self._threads[1:]:
            thread.join()
        with self._lock:
            self._state.kill_all()
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
            return self._state.preempt(pool_id, node_id)

    def pids(self) -> list[int]:
        """Process ids of every task and start task currently running."""
        with self._lock:
            runs = [
                run
                for nodes in self._state.nodes.values()
                for node in nodes.values()
                for run in [node.start_run, *node.tasks.values()]
                if run is not None
            ]
            return [run.popen.pid for run in runs]

    def _loop(self) -> None:
        while not self._stop.wait(_TICK):
            with self._lock:
                self._state.step()

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        state = self._state
        route = (method, *parts)
        match route:
            case ("GET", "pools"):
                pools = [state.pool_json(p) for p in state.pools]
                return 200, {"value": [p for p in pools if _matches(p, query.get("$filter"))]}
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
                nodes = [n.to_json(self.url, slots) for n in state.nodes[pool_id].values()]
                return 200, {"value": [n for n in nodes if _matches(n, query.get("$filter"))]}
            case ("GET", "pools", pool_id, "nodes", node_id):
                slots = state.pool(pool_id)["taskSlotsPerNode"]
                return 200, state.node(pool_id, node_id).to_json(self.url, slots)
            case ("POST", "emulator", "pools", pool_id, "preempt"):
                return 200, {"nodeId": state.preempt(pool_id, body.get("nodeId"))}
            case ("GET", "jobs"):
                jobs = [j for j in state.jobs.values() if _matches(j, query.get("$filter"))]
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
                return 200, {"value": [t for t in tasks if _matches(t, query.get("$filter"))]}
            case ("POST", "jobs", job_id, "tasks"):
                state.add_task(job_id, body)
                return 201, None
            case ("POST", "jobs", job_id, "addtaskcollection"):
                return 200, {"value": [self._add_one(job_id, t) for t in body.get("value", [])]}
            case ("GET", "jobs", job_id, "tasks", task_id):
                return 200, state.task_json(state.task(job_id, task_id))
            case ("DELETE", "jobs", job_id, "tasks", task_id):
                state.delete_task(job_id, task_id)
                return 200, None
            case ("POST", "jobs", job_id, "tasks", task_id, "terminate"):
                state.terminate_task(job_id, task_id)
                return 204, None
            case ("GET", "jobs", job_id, "tasks", task_id, "files", *path):
                return 200, self._task_file(job_id, task_id, "/".join(path))
        raise EmulatorError(
            404, "ResourceNotFound", f"{method} /{'/'.join(parts)} is not supported here"
        )

    def _add_one(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            self._state.add_task(job_id, body)
        except EmulatorError as err:
            return {
                "status": "clienterror",
                "taskId": body.get("id"),
                "error": {"code": err.code, "message": {"lang": "en-US", "value": err.message}},
            }
        return {"status": "success", "taskId": body["id"]}

    def _task_file(self, job_id: str, task_id: str, path: str) -> bytes:
        task = self._state.task(job_id, task_id)
        node_info = task.get("nodeInfo")
        node = (
            self._state.nodes.get(node_info["poolId"], {}).get(node_info["nodeId"])
            if node_info
            else None
        )
        target = None if node is None else (node.root / node_info["taskRootDirectory"] / path)
        if target is None or ".." in Path(path).parts or not target.is_file():
            raise EmulatorError(404, "FileNotFound", f"The specified file does not exist: {path}")
        return target.read_bytes()
