"""Pools and what their nodes run: the pool lifecycle, VM sizes, the wheel start task, quoting.

One pool lifecycle serves `AzureBatchCluster` and `submit_job`: `PoolSettings` (what a created
pool looks like, documented once), `ensure_pool` (get or create it, grow an empty one) and
`restore_pool` (give it back the targets it had).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vegdask import config
from vegdask.cluster._blobs import BlobDrop, storage_connection_string
from vegdask.cluster._client import send

__all__ = [
    "NODE_MODULES",
    "NODE_SITE",
    "VM_SIZES",
    "PoolClaim",
    "PoolSettings",
    "check_wheel",
    "checked_python",
    "ensure_pool",
    "pool_body",
    "resize_pool",
    "restore_pool",
    "running_from_node_site",
    "shell_join",
    "upload_wheel",
    "wheel_start_task",
    "worker_resources",
]

#: Where a pool's start task installs the vegdask wheel; tasks put it first on PYTHONPATH.
NODE_SITE = "$AZ_BATCH_NODE_SHARED_DIR/vegdask-site"

# vCPUs and GiB of memory of common Batch VM sizes (lower-case names, as Batch reports them).
VM_SIZES: dict[str, tuple[int, float]] = {
    "standard_a1_v2": (1, 2.0),
    "standard_a2_v2": (2, 4.0),
    "standard_a4_v2": (4, 8.0),
    "standard_a8_v2": (8, 16.0),
    "standard_d2s_v3": (2, 8.0),
    "standard_d4s_v3": (4, 16.0),
    "standard_f2s_v2": (2, 4.0),
}


def worker_resources(vm_size: str, slots: int) -> tuple[int, str]:
    """Threads and memory limit of one worker when ``slots`` workers share a node of ``vm_size``.

    About 80% of the node's memory is shared out; the rest is for the OS and the Batch agent.

    Examples
    --------
    >>> worker_resources("Standard_A1_v2", 1)
    (1, '1.60GiB')
    >>> worker_resources("Standard_A4_v2", 2)
    (2, '3.20GiB')
    """
    known = VM_SIZES.get(vm_size.lower())
    if known is None:
        raise ValueError(
            f"unknown vm_size {vm_size!r}: pass worker_nthreads and worker_memory, or use one of "
            f"{sorted(VM_SIZES)}"
        )
    vcpus, gib = known
    return max(vcpus // slots, 1), f"{0.8 * gib / slots:.2f}GiB"


def shell_join(argv: list[str]) -> str:
    """Quote ``argv`` for bash, leaving ``$AZ_BATCH_*`` variables to expand on the node.

    Examples
    --------
    >>> print(shell_join(["echo", "a b", "$AZ_BATCH_TASK_WORKING_DIR/k.pem"]))
    echo 'a b' "$AZ_BATCH_TASK_WORKING_DIR/k.pem"
    """
    return " ".join(
        f'"{arg}"' if arg.startswith("$AZ_BATCH_") and '"' not in arg else shlex.quote(arg)
        for arg in argv
    )


#: What the nodes' Python must import to run a vegdask job with abfs outputs (vegdask[azure]).
NODE_MODULES = ("distributed", "vegdask", "adlfs", "azure.batch", "azure.storage.blob")

# Run by the node's Python before a worker or a driver starts: one line naming what it lacks.
_CHECK = """import importlib.util, sys
def found(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False
missing = [name for name in sys.argv[1:] if not found(name)]
if missing:
    sys.exit(
        f"the Python on this node ({sys.executable}) lacks {', '.join(missing)}: give vegdask a "
        "wheel to install (wheel=, vegdask submit --wheel) or set vegdask.azure.worker-python "
        "(DASK_VEGDASK__AZURE__WORKER_PYTHON) to an interpreter that has vegdask[azure]"
    )
"""


def checked_python(python: str, modules: tuple[str, ...], command: str) -> str:
    r"""Bash running ``command`` once ``python`` was found to import every one of ``modules``.

    Examples
    --------
    >>> import subprocess, sys
    >>> script = checked_python(sys.executable, ("json", "no_such_module"), "echo started")
    >>> done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    >>> done.returncode, done.stdout, done.stderr.count("\n")
    (1, '', 1)
    >>> "lacks no_such_module: " in done.stderr
    True
    """
    if not modules:
        return command
    return f"{shell_join([python, '-c', _CHECK, *modules])} && {command}"


def running_from_node_site() -> bool:
    """Whether this process imports vegdask from the wheel a pool start task installed.

    True in a driver task of `vegdask.cluster.submit_job`: its workers then use that wheel too.
    """
    import vegdask

    shared = os.environ.get("AZ_BATCH_NODE_SHARED_DIR")
    if not shared:
        return False
    site = Path(shared, "vegdask-site").resolve()
    return Path(vegdask.__file__).resolve().is_relative_to(site)


def pool_body(
    pool_id: str,
    vm_size: str,
    slots_per_node: int = 1,
    *,
    start_task: dict[str, Any] | None = None,
    dedicated: int = 0,
    low_priority: int = 0,
    auto_scale_formula: str | None = None,
) -> dict[str, Any]:
    """Batch JSON of a vegdask pool (image from ``vegdask.azure.vm-configuration``)."""
    body: dict[str, Any] = {
        "id": pool_id,
        "vmSize": vm_size,
        "virtualMachineConfiguration": json.loads(config.get("azure.vm-configuration")),
        "taskSlotsPerNode": int(slots_per_node),
        "targetDedicatedNodes": int(dedicated),
        "targetLowPriorityNodes": int(low_priority),
    }
    if auto_scale_formula:
        body.update(enableAutoScale=True, autoScaleFormula=auto_scale_formula)
        del body["targetDedicatedNodes"], body["targetLowPriorityNodes"]
    if start_task:
        body["startTask"] = {"waitForSuccess": True, "maxTaskRetryCount": 1, **start_task}
    return body


def wheel_start_task(
    wheel: str,
    python: str,
    connection_string: str | None = None,
    *,
    install_dependencies: bool = True,
    sas_hours: float | None = None,
    extras: str = "azure",
    modules: tuple[str, ...] = NODE_MODULES,
) -> dict[str, Any]:
    """Start task installing ``wheel`` from a short-lived read-only SAS URL into the node's site.

    The wheel is uploaded first. The SAS goes into ``resourceFiles`` (fetched by the node
    agent), never into the command line or environment settings; tasks then put
    ``$AZ_BATCH_NODE_SHARED_DIR/vegdask-site`` first on ``PYTHONPATH``. The wheel goes in
    without its dependencies; with ``install_dependencies``, when the node's Python then lacks
    one of ``modules``, ``vegdask[extras]`` is installed with its dependencies. Last, ``modules``
    are checked: a start task whose node still lacks one fails with one line naming it. The
    wheel's SAS URL expires in ``sas_hours`` (None: the setting ``vegdask.azure.sas-hours``).
    """
    url = upload_wheel(wheel, connection_string, expiry_hours=sas_hours)
    name = os.path.basename(wheel)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--upgrade"]
    pip += ["--target", NODE_SITE]
    check = shell_join([python, "-c", _CHECK, *modules])
    script = ["set -e", shell_join([*pip, "--no-deps", name]), f'export PYTHONPATH="{NODE_SITE}"']
    if install_dependencies:
        # the dependencies the node's Python has are not downloaded again (pip --target would)
        script.append(f"{check} 2>/dev/null || {shell_join([*pip, f'{name}[{extras}]'])}")
    script.append(check)
    return {
        "commandLine": f"/bin/bash -c {shlex.quote('; '.join(script))}",
        "resourceFiles": [{"httpUrl": url, "filePath": name}],
        "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
    }


def check_wheel(wheel: str | os.PathLike) -> str:
    """The wheel's path, if it is a vegdask wheel of exactly the version this client runs."""
    from vegdask import __version__

    path = os.fspath(wheel)
    parts = os.path.basename(path).split("-")
    if not path.endswith(".whl") or len(parts) < 3 or parts[0] != "vegdask":
        raise ValueError(f"wheel must be a vegdask-<version>-*.whl file, got {path!r}")
    if parts[1] != __version__:
        raise ValueError(
            f"wheel {path!r} is vegdask {parts[1]} but this client runs {__version__}: nodes must "
            "run exactly the client's version"
        )
    if not os.path.isfile(path):
        raise ValueError(f"wheel {path!r} does not exist")
    return path


def upload_wheel(
    wheel: str,
    connection_string: str | None = None,
    *,
    container: str = "vegdask-software",
    expiry_hours: float | None = None,
) -> str:
    """Upload a wheel to blob storage; return a read-only SAS URL expiring in ``expiry_hours``.

    ``expiry_hours`` None: the setting ``vegdask.azure.sas-hours``.
    """
    drop = BlobDrop(storage_connection_string(connection_string), container)
    name = os.path.basename(wheel)
    with open(wheel, "rb") as fh:
        drop.put(name, fh)
    return drop.url(name, expiry_hours)


@dataclass(frozen=True)
class PoolSettings:
    """How vegdask creates and sizes an Azure Batch pool (`AzureBatchCluster`, `submit_job`).

    Parameters
    ----------
    pool_id : str, optional
        The pool; default ``vegdask.azure.pool-id``.
    vm_size : str, optional
        VM size of a created pool; default ``vegdask.azure.vm-size`` (Standard_A1_v2). It sets
        a cluster's worker threads and memory limit (see `worker_resources`).
    python : str, optional
        Interpreter on the nodes; default ``vegdask.azure.worker-python`` (``python3``).
    slots_per_node : int
        Task slots per node of a created pool: workers (or tasks) sharing one node.
    low_priority : bool, optional
        Size the pool with low-priority (Spot) nodes instead of dedicated ones; default
        ``vegdask.azure.low-priority`` (false).
    start_task : dict, optional
        Start task of a created pool, as Batch JSON (``commandLine``, ``resourceFiles``, ...),
        instead of the one installing ``wheel``.
    auto_scale_formula : str, optional
        Let Batch autoscale a created pool with this formula instead of vegdask resizing it
        (evaluated at most every 5 minutes).
    wheel : str or path, optional
        The vegdask wheel of *this* client's version (``pip wheel --no-deps .``), uploaded to blob
        storage and installed by a created pool's start task from a read-only SAS URL that expires
        after ``sas_hours``; tasks then run it from the node's shared site directory.
    install_dependencies : bool
        Let that start task install the wheel's dependencies the node's Python lacks (False when
        the node image has them, as on the emulator).
    storage_connection_string : str, optional
        Storage with the account key, for the files handed to nodes and their SAS URLs; default
        ``vegdask.azure.storage-connection-string``, else ``AZURE_STORAGE_CONNECTION_STRING``.
    sas_hours : float, optional
        Lifetime of the SAS URLs of the files handed to nodes: a task must start within it;
        default ``vegdask.azure.sas-hours``.

    Examples
    --------
    >>> settings = PoolSettings("p", low_priority=True)
    >>> settings.vm_size, settings.python, settings.target
    ('Standard_A1_v2', 'python3', 'targetLowPriorityNodes')
    """

    pool_id: str | None = None
    vm_size: str | None = None
    python: str | None = None
    slots_per_node: int = 1
    low_priority: bool | None = None
    start_task: dict[str, Any] | None = None
    auto_scale_formula: str | None = None
    wheel: str | os.PathLike | None = None
    install_dependencies: bool = True
    storage_connection_string: str | None = None
    sas_hours: float | None = None

    def __post_init__(self) -> None:
        resolved = {
            "pool_id": config.get("azure.pool-id", self.pool_id),
            "vm_size": config.get("azure.vm-size", self.vm_size),
            "python": config.get("azure.worker-python", self.python),
            "low_priority": config.flag("azure.low-priority", self.low_priority),
            "sas_hours": float(config.get("azure.sas-hours", self.sas_hours)),
            "slots_per_node": int(self.slots_per_node),
            "wheel": None if self.wheel is None else check_wheel(self.wheel),
        }
        if resolved["slots_per_node"] < 1:
            raise ValueError(f"slots_per_node must be 1 or more, got {self.slots_per_node!r}")
        for name, value in resolved.items():
            object.__setattr__(self, name, value)

    @property
    def target(self) -> str:
        """The pool's target this vegdask sizes: low-priority or dedicated nodes."""
        return "targetLowPriorityNodes" if self.low_priority else "targetDedicatedNodes"

    def spec(self, nodes: int = 0) -> dict[str, Any]:
        """Batch JSON creating this pool with ``nodes`` nodes (uploads ``wheel`` if given)."""
        start = self.start_task
        if start is None and self.wheel is not None:
            start = wheel_start_task(
                os.fspath(self.wheel),
                str(self.python),
                self.storage_connection_string,
                install_dependencies=self.install_dependencies,
                sas_hours=self.sas_hours,
            )
        dedicated, low = (0, nodes) if self.low_priority else (nodes, 0)
        return pool_body(
            str(self.pool_id),
            str(self.vm_size),
            self.slots_per_node,
            start_task=start,
            dedicated=dedicated,
            low_priority=low,
            auto_scale_formula=self.auto_scale_formula,
        )


@dataclass(frozen=True)
class PoolClaim:
    """What `ensure_pool` found and did.

    ``previous`` holds the (dedicated, low-priority) targets to give the pool back
    (`restore_pool`): ``(0, 0)`` for a pool it created, None for an autoscaled pool, which
    vegdask never resizes.
    """

    pool_id: str
    created: bool
    grown: bool
    previous: tuple[int, int] | None

    @property
    def changed(self) -> bool:
        """Whether `ensure_pool` created or grew the pool."""
        return self.created or self.grown


def ensure_pool(
    client: Any, settings: PoolSettings, *, nodes: int = 0, create: bool = True
) -> PoolClaim:
    """Get the pool of ``settings``, or create it; grow a pool with fewer than ``nodes`` nodes.

    Parameters
    ----------
    client : azure.batch.BatchClient
    settings : PoolSettings
    nodes : int
        Nodes the pool must target (dedicated and low-priority together); an autoscaled pool is
        left alone. Added nodes are of the settings' kind.
    create : bool
        Create a missing pool (with ``nodes`` nodes); else a missing pool is an error.

    Raises
    ------
    ValueError
        If the pool is missing and ``create`` is False.
    """
    from azure.batch import models
    from azure.core.exceptions import ResourceNotFoundError

    pool_id = str(settings.pool_id)
    try:
        pool = client.get_pool(pool_id)
    except ResourceNotFoundError:
        if not create:
            raise ValueError(
                f"Batch pool {pool_id!r} does not exist and create_pool=False"
            ) from None
        client.create_pool(models.BatchPoolCreateOptions(settings.spec(nodes)))
        return PoolClaim(pool_id, created=True, grown=False, previous=(0, 0))
    if pool.enable_auto_scale:
        return PoolClaim(pool_id, created=False, grown=False, previous=None)
    previous = (pool.target_dedicated_nodes or 0, pool.target_low_priority_nodes or 0)
    other = previous[0] if settings.low_priority else previous[1]
    grow = sum(previous) < nodes
    if grow:
        resize_pool(client, pool_id, {settings.target: nodes - other})
    return PoolClaim(pool_id, created=False, grown=grow, previous=previous)


def resize_pool(client: Any, pool_id: str, targets: dict[str, int]) -> None:
    """Set the pool's ``targetDedicatedNodes``/``targetLowPriorityNodes`` to ``targets``.

    Nodes leave only once their tasks are done (``nodeDeallocationOption=taskcompletion``): other
    users' tasks, or a driver's, are never requeued.
    """
    from azure.batch import models

    options = {**targets, "nodeDeallocationOption": "taskcompletion"}
    send(client.begin_resize_pool, pool_id, models.BatchPoolResizeOptions(options))


def restore_pool(client: Any, pool_id: str, previous: tuple[int, int]) -> None:
    """Give the pool back its (dedicated, low-priority) targets ``previous`` (`PoolClaim`)."""
    dedicated, low = previous
    resize_pool(client, pool_id, {"targetDedicatedNodes": dedicated, "targetLowPriorityNodes": low})
