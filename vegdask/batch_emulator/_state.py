"""The Batch account's state: pools and their nodes, jobs and their tasks.

Every method is called with the emulator's lock held; time advances in `_scheduler`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vegdask.batch_emulator._processes import Run
from vegdask.batch_emulator._protocol import EmulatorError, parse_duration, required, timestamp

__all__ = ["Node", "State"]


@dataclass
class Node:
    id: str
    pool_id: str
    dedicated: bool
    ready_at: float
    root: Path
    state: str = "creating"
    start_task: dict[str, Any] = field(default_factory=dict)
    start_run: Run | None = None
    tasks: dict[tuple[str, str], Run] = field(default_factory=dict)
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


class State:
    """Pools, nodes, jobs and tasks; every method is called with the lock held."""

    def __init__(self, url: str, account: str, root: Path, allocation_delay: float) -> None:
        self.url, self.account, self.root = url, account, root
        self.allocation_delay = allocation_delay
        self.pools: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Node]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, dict[str, Any]]] = {}
        self.counter = 0

    # -- pools and nodes ---------------------------------------------------------------
    def create_pool(self, body: dict[str, Any]) -> None:
        pool_id = required(body, "id")
        if pool_id in self.pools:
            raise EmulatorError(409, "PoolExists", "The specified pool already exists.")
        pool = {
            "id": pool_id,
            "url": f"{self.url}/pools/{pool_id}",
            "vmSize": body.get("vmSize", "standard_a1_v2"),
            "state": "active",
            "allocationState": "steady",
            "creationTime": timestamp(),
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
                nodes[node_id] = Node(
                    node_id,
                    pool["id"],
                    dedicated,
                    time.monotonic() + self.allocation_delay,
                    self.root / "nodes" / node_id,
                )
            # fewest running tasks first, so idle nodes leave before busy ones
            for node in sorted(mine, key=lambda n: len(n.tasks))[: max(-missing, 0)]:
                node.leaving = pool["nodeDeallocationOption"]
        pool["allocationState"] = "resizing" if self.resizing(pool) else "steady"

    def resizing(self, pool: dict[str, Any]) -> bool:
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

    def node(self, pool_id: str, node_id: str) -> Node:
        self.pool(pool_id)
        if node_id not in self.nodes[pool_id]:
            raise EmulatorError(404, "NodeNotFound", "The specified node does not exist.")
        return self.nodes[pool_id][node_id]

    def delete_pool(self, pool_id: str) -> None:
        self.pool(pool_id)
        for node in list(self.nodes[pool_id].values()):
            self.drop_node(node, "requeue")
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
        self.drop_node(node, "requeue")
        del self.nodes[pool_id][node.id]
        self.reconcile_pool(self.pools[pool_id])
        return node.id

    def drop_node(self, node: Node, option: str) -> None:
        if node.start_run is not None:
            node.start_run.kill()
        for (job_id, task_id), run in list(node.tasks.items()):
            run.kill()
            task = self.tasks[job_id][task_id]
            if option == "terminate":
                self.complete(task, run, -1, "TaskEnded", "terminated by node removal")
            else:
                info = task["executionInfo"]
                info["requeueCount"] = info.get("requeueCount", 0) + 1
                self.set_state(task, "active")
                task.pop("nodeInfo", None)
        node.tasks.clear()

    # -- jobs and tasks ----------------------------------------------------------------
    def create_job(self, body: dict[str, Any]) -> None:
        job_id = required(body, "id")
        if job_id in self.jobs:
            raise EmulatorError(409, "JobExists", "The specified job already exists.")
        pool_id = (body.get("poolInfo") or {}).get("poolId")
        if not pool_id:
            raise EmulatorError(400, "MissingRequiredProperty", "poolInfo.poolId is required")
        self.jobs[job_id] = {
            "id": job_id,
            "url": f"{self.url}/jobs/{job_id}",
            "state": "active",
            "creationTime": timestamp(),
            "stateTransitionTime": timestamp(),
            "poolInfo": {"poolId": pool_id},
            "priority": body.get("priority", 0),
            "executionInfo": {"startTime": timestamp(), "poolId": pool_id},
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
        job["stateTransitionTime"] = timestamp()
        job["executionInfo"]["endTime"] = timestamp()
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
        task_id = required(body, "id")
        if task_id in self.tasks[job_id]:
            raise EmulatorError(409, "TaskExists", "The specified task already exists.")
        required(body, "commandLine")
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
            "creationTime": timestamp(),
            "stateTransitionTime": timestamp(),
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
        node, run = self.running(job_id, task_id)
        if node is not None and run is not None:
            run.kill()
            del node.tasks[(job_id, task_id)]
            self.complete(task, run, -1, "TaskEnded", "The task was terminated.")
        else:
            self.complete(task, None, None, "TaskEnded", "The task was terminated.")

    def delete_task(self, job_id: str, task_id: str) -> None:
        self.terminate_task(job_id, task_id)
        del self.tasks[job_id][task_id]

    def running(self, job_id: str, task_id: str) -> tuple[Node | None, Run | None]:
        for nodes in self.nodes.values():
            for node in nodes.values():
                if (job_id, task_id) in node.tasks:
                    return node, node.tasks[(job_id, task_id)]
        return None, None

    def set_state(self, task: dict[str, Any], state: str) -> None:
        task["previousState"], task["state"] = task["state"], state
        task["stateTransitionTime"] = timestamp()

    def complete(
        self,
        task: dict[str, Any],
        run: Run | None,
        exit_code: int | None,
        failure: str | None,
        message: str = "",
    ) -> None:
        info = task["executionInfo"]
        info["endTime"] = timestamp()
        if exit_code is not None:
            info["exitCode"] = exit_code
        info["result"] = "failure" if failure else "success"
        if failure:
            info["failureInfo"] = {"category": "usererror", "code": failure, "message": message}
        self.set_state(task, "completed")

    def env(self, pool_id: str, node: Node, settings: list | None) -> dict[str, str]:
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
                self.drop_node(node, "terminate")
