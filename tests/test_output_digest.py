"""A small demo run's outputs against a stored digest: restructuring must not change any number.

The digest (`vegdask.testing.output_digest`, tests/output_digest.json) keeps integers, booleans,
strings, dates, shapes, dims, dtypes, attributes, column names and the positions of NaN values
exactly, and float arrays as projections (per block of at most 1/32 of the array: sum, sum
weighted by fixed seeded weights, L1 norm; min, max) compared to a relative tolerance of 1e-9 of
the array's magnitude (float32: 4 eps): a change of one value by more than 2e-9 times the larger of
its block's L1 norm and the array's largest magnitude is always seen (for arrays of at most 32
values, 2e-9 times the largest magnitude), last-bit differences between CPUs are not.
`TOLERANCES` lists the outputs that need more, and why.

The stored digest is made on the host CPU; the test reruns the demo in a process of its own with
generic-CPU settings (numba compiling for a generic x86-64 into an empty cache, numpy's AVX-512
kernels disabled), so every run of the suite checks that the outputs agree across CPU paths.
Only commits that mean to change outputs update the digest, and say why in their message::

    .venv/bin/python tests/update_output_digest.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr

from vegdask.testing import RTOL, digest_differences, output_digest

SCRIPT = Path(__file__).with_name("update_output_digest.py")
DIGEST_FILE = Path(__file__).with_name("output_digest.json")
# The Crystal Ball fit (analysis/_crystal_ball.py) is an optimiser's answer: its location, scale
# and residuals agree to its convergence tolerance only, and on near-Gaussian series its tail
# (alpha, N and return_rate = alpha**2 / 2) is not determined by the data at all (a last-bit
# change in the input moves N from 656 to 7700), so only their presence is compared.
CB = "analysis/summary_stats.json/*/"
TOLERANCES = {
    f"{CB}CB_fit_xbar": 1e-6,
    f"{CB}CB_fit_sigma": 1e-6,
    f"{CB}CB_fit_residuals": 1e-6,
    f"{CB}CB_fit_alpha": None,
    f"{CB}CB_fit_N": None,
    f"{CB}return_rate": None,
}


def generic_cpu_environment(numba_cache: Path) -> dict[str, str]:
    """This process's environment with numba and numpy told to use no CPU-specific code."""
    from numpy._core import _multiarray_umath as umath

    # Those this CPU has, and those already disabled here (numpy then reports them absent).
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    disabled += [
        name
        for name in umath.__cpu_dispatch__
        if (name.startswith("AVX512") or name == "X86_V4") and umath.__cpu_features__.get(name)
    ]
    environment = {**os.environ, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(numba_cache)}
    environment.pop("NPY_DISABLE_CPU_FEATURES", None)
    features = " ".join(dict.fromkeys(disabled))
    return environment | ({"NPY_DISABLE_CPU_FEATURES": features} if features else {})


@pytest.fixture(scope="module")
def generic_environment(tmp_path_factory):
    return generic_cpu_environment(tmp_path_factory.mktemp("numba-cache"))


@pytest.fixture(scope="module")
def run_output(tmp_path_factory, generic_environment):
    """The demo's outputs, computed with generic-CPU settings in a process of its own."""
    output = tmp_path_factory.mktemp("digest-run")
    subprocess.run(
        [sys.executable, str(SCRIPT), "--run", str(output)],
        env=generic_environment,
        check=True,
        timeout=1200,
        stdout=subprocess.DEVNULL,
    )
    return output


def test_generic_cpu_settings_take_effect(generic_environment):
    probe = (
        "import json, numba, numpy; from numpy._core import _multiarray_umath as u;"
        "print(json.dumps([numba.config.CPU_NAME, numba.config.CACHE_DIR,"
        " [f for f in u.__cpu_dispatch__ if u.__cpu_features__[f]]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=generic_environment,
        capture_output=True,
        text=True,
        check=True,
    )
    cpu_name, cache_dir, dispatched = json.loads(result.stdout)
    assert cpu_name == "generic"
    assert cache_dir == generic_environment["NUMBA_CACHE_DIR"]
    assert not any(name.startswith("AVX512") or name == "X86_V4" for name in dispatched)


@pytest.mark.slow
def test_outputs_match_the_stored_digest(run_output):
    stored = json.loads(DIGEST_FILE.read_text())
    differences = digest_differences(stored, output_digest(run_output), TOLERANCES)
    assert not differences, "outputs changed:\n" + "\n".join(differences)


@pytest.mark.slow
def test_digest_sees_a_change_its_tolerance_must_see(run_output, tmp_path):
    """Not blind: one value moved by twice the documented bound is seen, last bits are not."""
    tiles = xr.open_zarr(run_output / "tiles.zarr", consolidated=False).load()
    shutil.copytree(run_output / "tiles.zarr", tmp_path / "tiles.zarr")
    before = output_digest(tmp_path)
    summary = before["tiles.zarr/offset50"]["floats"]
    bound = 2 * RTOL * max(summary["max_abs"], summary["blocks"][0][2])

    def changed(values: np.ndarray) -> set[str]:
        tiles["offset50"].values = values
        tiles.to_zarr(tmp_path / "tiles.zarr", consolidated=False, mode="w")
        after = output_digest(tmp_path)
        return {line.split(":")[0] for line in digest_differences(before, after)}

    original = tiles["offset50"].values.copy()
    moved = original.copy()
    moved[0, 0, 0] += 2 * bound
    assert changed(moved) == {"tiles.zarr/offset50"}
    swapped = original.copy()
    swapped[0, 0, [0, 1]] = swapped[0, 0, [1, 0]]
    assert original[0, 0, 0] != original[0, 0, 1]
    assert changed(swapped) == {"tiles.zarr/offset50"}
    last_bits = np.nextafter(np.nextafter(original, np.inf), np.inf)  # 2 ulp, every value
    assert changed(last_bits) == set()


def test_stored_digest_is_written_by_the_script(tmp_path):
    """tests/output_digest.json is the script's output (one output per line), not hand edited."""
    spec = importlib.util.spec_from_file_location("update_output_digest", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    stored = json.loads(DIGEST_FILE.read_text())
    script.write_digest(stored, tmp_path / "digest.json")
    assert (tmp_path / "digest.json").read_text() == DIGEST_FILE.read_text()
    assert script.DIGEST_FILE == DIGEST_FILE


@pytest.mark.slow
def test_outputs_open_plainly_with_xarray(run_output):
    """``xr.open_zarr(path)`` as a user types it: no warning; the Scene's CRS is a coordinate."""
    stores = sorted(run_output.rglob("*.zarr"))
    assert len(stores) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opened = {path.name: xr.open_zarr(path) for path in stores}
    assert opened["scene.zarr"].rio.crs.to_epsg() == 32635  # UTM 35N: the demo site, 27.94 E
    assert opened["mask.zarr"].rio.crs == opened["scene.zarr"].rio.crs
