"""The scheduling loop: time passes, nodes come up, start tasks and tasks run and end."""

from __future__ import annotations

import shutil
import time
from typing import Any

from vegdask.batch_emulator._processes import Run, download, spawn
from vegdask.batch_emulator._protocol import parse_duration, timestamp
from vegdask.batch_emulator._state import Node, State

__all__ = ["step"]


def step(state: State) -> None:
    """Advance time: allocate nodes, run start tasks, reap processes, fill free slots."""
    now = time.monotonic()
    for pool_id, nodes in list(state.nodes.items()):
        pool = state.pools[pool_id]
        for node in list(nodes.values()):
            step_node(state, pool, node, now)
            if node.leaving and (node.leaving != "taskcompletion" or not node.tasks):
                state.drop_node(node, node.leaving)
                del nodes[node.id]
        pool["allocationState"] = "resizing" if state.resizing(pool) else "steady"
    schedule(state)


def step_node(state: State, pool: dict[str, Any], node: Node, now: float) -> None:
    if node.state == "creating" and now >= node.ready_at:
        node.root.mkdir(parents=True, exist_ok=True)
        for sub in ("shared", "startup", "workitems"):
            (node.root / sub).mkdir(exist_ok=True)
        node.state = "idle"
        if pool["startTask"]:
            start_start_task(state, pool, node)
    if node.start_run is not None:
        reap_start_task(state, pool, node)
    for key, run in list(node.tasks.items()):
        reap_task(state, node, key, run, now)
    if node.state in ("idle", "running"):
        node.state = "running" if node.tasks else "idle"


def start_start_task(state: State, pool: dict[str, Any], node: Node) -> None:
    spec = pool["startTask"]
    workdir = node.root / "startup" / "wd"
    workdir.mkdir(parents=True, exist_ok=True)
    env = state.env(pool["id"], node, spec.get("environmentSettings"))
    env["AZ_BATCH_TASK_DIR"] = str(node.root / "startup")
    env["AZ_BATCH_TASK_WORKING_DIR"] = str(workdir)
    try:
        download(spec.get("resourceFiles"), workdir)
    except OSError as err:
        node.start_task = {"state": "completed", "result": "failure", "exitCode": -1}
        node.start_task["failureInfo"] = {
            "code": "ResourceFileDownloadFailed",
            "message": str(err),
        }
        node.state = "starttaskfailed"
        return
    node.start_run = spawn(spec["commandLine"], node.root / "startup", workdir, env, None)
    retries = node.start_task.get("retryCount", -1) + 1 if node.start_task else 0
    node.start_task = {"state": "running", "startTime": timestamp(), "retryCount": retries}
    if spec.get("waitForSuccess", True):
        node.state = "starting"


def reap_start_task(state: State, pool: dict[str, Any], node: Node) -> None:
    run = node.start_run
    code = None if run is None else run.popen.poll()
    if run is None or code is None:
        return
    run.kill()
    node.start_run = None
    node.start_task.update(state="completed", exitCode=code, endTime=timestamp())
    node.start_task["result"] = "success" if code == 0 else "failure"
    spec = pool["startTask"]
    if code != 0 and node.start_task["retryCount"] < int(spec.get("maxTaskRetryCount") or 0):
        start_start_task(state, pool, node)
    elif spec.get("waitForSuccess", True):
        node.state = "idle" if code == 0 else "starttaskfailed"


def reap_task(state: State, node: Node, key: tuple[str, str], run: Run, now: float) -> None:
    task = state.tasks[key[0]][key[1]]
    code = run.popen.poll()
    if code is None and run.deadline is not None and now > run.deadline:
        run.kill()
        del node.tasks[key]
        state.complete(task, run, -1, "MaxWallClockTimeExceeded", "wall clock time exceeded")
        return
    if code is None:
        return
    run.kill()
    del node.tasks[key]
    info = task["executionInfo"]
    if code != 0 and info["retryCount"] < int(task["constraints"]["maxTaskRetryCount"]):
        info["retryCount"] += 1
        info["exitCode"] = code
        state.set_state(task, "active")
        return
    state.complete(task, run, code, "FailureExitCode" if code else None, f"exit code {code}")


def schedule(state: State) -> None:
    queue = sorted(
        (
            t
            for job_id, tasks in state.tasks.items()
            for t in tasks.values()
            if t["state"] == "active"
        ),
        key=lambda t: t["_order"],
    )
    for task in queue:
        job_id = task["url"].split("/jobs/")[1].split("/")[0]
        pool_id = state.jobs[job_id]["poolInfo"]["poolId"]
        if state.jobs[job_id]["state"] != "active" or pool_id not in state.pools:
            continue
        slots = state.pools[pool_id]["taskSlotsPerNode"]
        free = [
            n
            for n in state.nodes[pool_id].values()
            if n.state in ("idle", "running") and not n.leaving and len(n.tasks) < slots
        ]
        if free:
            start_task(state, job_id, task, min(free, key=lambda n: (len(n.tasks), n.id)))


def start_task(state: State, job_id: str, task: dict[str, Any], node: Node) -> None:
    task_dir = node.root / "workitems" / job_id / "job-1" / task["id"]
    if task_dir.exists():
        shutil.rmtree(task_dir)
    workdir = task_dir / "wd"
    workdir.mkdir(parents=True)
    env = state.env(
        node.pool_id,
        node,
        [*state.jobs[job_id]["commonEnvironmentSettings"], *task["environmentSettings"]],
    )
    env.update(
        AZ_BATCH_JOB_ID=job_id,
        AZ_BATCH_TASK_ID=task["id"],
        AZ_BATCH_TASK_DIR=str(task_dir),
        AZ_BATCH_TASK_WORKING_DIR=str(workdir),
    )
    try:  # as on Batch: resource files are fetched before the command line runs
        download(task["resourceFiles"], workdir)
    except OSError as err:
        state.complete(task, None, None, "ResourceFileDownloadFailed", str(err))
        return
    wall = parse_duration(task["constraints"]["maxWallClockTime"])
    first = "startTime" not in task["executionInfo"]
    run = spawn(task["commandLine"], task_dir, workdir, env, wall)
    node.tasks[(job_id, task["id"])] = run
    node.total_run += 1
    node.state = "running"
    info = task["executionInfo"]
    info["startTime" if first else "lastRetryTime"] = timestamp()
    info.pop("endTime", None)
    info.pop("exitCode", None)
    task["nodeInfo"] = {
        "poolId": node.pool_id,
        "nodeId": node.id,
        "nodeUrl": f"{state.url}/pools/{node.pool_id}/nodes/{node.id}",
        "taskRootDirectory": f"workitems/{job_id}/job-1/{task['id']}",
        "taskRootDirectoryUrl": f"{state.url}/jobs/{job_id}/tasks/{task['id']}/files",
    }
    state.set_state(task, "running")
