"""``vegdask --version`` and ``--help`` answer without importing the scientific stack.

They took 3.5-6 s when every subcommand module imported numpy, vegdask.data and numba at import
time; the time itself is an asv benchmark (benchmarks/bench_cli.py).
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "xarray", "dask", "distributed", "numba", "zarr", "scipy")
PROBE = """
import contextlib, io, json, sys
from vegdask.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main({argv!r})
    except SystemExit as exit:
        code = exit.code
print(json.dumps([code, out.getvalue(), sorted(m for m in {heavy!r} if m in sys.modules)]))
"""


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["run", "--help"], ["download", "--help"]]
)
def test_version_and_help_import_nothing_heavy(argv):
    probe = PROBE.format(argv=argv, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, out, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0
    assert out.startswith("vegdask ") if argv == ["--version"] else "usage: vegdask" in out
    assert imported == []
