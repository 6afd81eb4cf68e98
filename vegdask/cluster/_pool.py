"""Pools and what their nodes run: VM sizes, pool JSON, the wheel start task, shell quoting."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from vegdask import config
from vegdask.cluster._blobs import BlobDrop, storage_connection_string

__all__ = [
    "NODE_MODULES",
    "NODE_SITE",
    "VM_SIZES",
    "check_wheel",
    "checked_python",
    "pool_body",
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
    sas_hours: float = 2.0,
    extras: str = "azure",
    modules: tuple[str, ...] = NODE_MODULES,
) -> dict[str, Any]:
    """Start task installing ``wheel`` from a short-lived read-only SAS URL into the node's site.

    The wheel is uploaded first. The SAS goes into ``resourceFiles`` (fetched by the node
    agent), never into the command line or environment settings; tasks then put
    ``$AZ_BATCH_NODE_SHARED_DIR/vegdask-site`` first on ``PYTHONPATH``. The wheel goes in
    without its dependencies; with ``install_dependencies``, when the node's Python then lacks
    one of ``modules``, ``vegdask[extras]`` is installed with its dependencies. Last, ``modules``
    are checked: a start task whose node still lacks one fails with one line naming it.
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
    expiry_hours: float = 2.0,
) -> str:
    """Upload a wheel to blob storage; return a read-only SAS URL expiring in ``expiry_hours``."""
    drop = BlobDrop(storage_connection_string(connection_string), container)
    name = os.path.basename(wheel)
    with open(wheel, "rb") as fh:
        drop.put(name, fh)
    return drop.url(name, expiry_hours)
