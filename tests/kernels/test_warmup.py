"""compile_kernels compiles every specialisation the jobs use: nothing is compiled afterwards.

A fresh interpreter with an empty numba cache (numba reports each cache write with
NUMBA_DEBUG_CACHE) compiles a group, then calls the kernels as the pipeline and the analysis do:
read-only arrays (as pandas and xarray hand them out), stacks of series, maps of tiles.
"""

import os
import re
import subprocess
import sys

import pytest

from vegdask.kernels import compile_kernels

USE_ANALYSIS_KERNELS = """
import numpy as np
from vegdask.kernels import (gaussian_smooth, kendall_tau, loess_smooth, rolling_indicators,
                             surrogate_test)
rng = np.random.default_rng(0)
series = np.cumsum(rng.standard_normal(60))
series[[3, 30]] = np.nan
frozen = series.copy()
frozen.flags.writeable = False
maps = np.broadcast_to(series, (3, 4, 60))  # read-only, tiles x time
for x in (series, frozen, maps):
    gaussian_smooth(x, 6.0)
    loess_smooth(x, 0.3, t=np.arange(60.0))
    for ar1 in ("ols", "pearson", "acf"):
        rolled = rolling_indicators(x, 0.5, ar1=ar1, state=x)
        kendall_tau(rolled["ar1"])
surrogate_test(frozen, 0.5, n_surrogates=5, seed=1)
"""

USE_TILE_KERNELS = """
import numpy as np
from vegdask.kernels import clahe, rietkerk_evolve, tile_feature_vectors
rng = np.random.default_rng(0)
mask = rng.random((100, 100)) > 0.5
for diagonal in (False, True):
    tile_feature_vectors(mask, diagonal=diagonal, with_tie_sensitivity=True)
tile_feature_vectors(mask, num_quantiles=8)
clahe((rng.random((120, 120)) * 255).astype(np.uint8))
p = rng.random((20, 20))
rietkerk_evolve(p, p.copy(), p.copy(), rainfall=1.2, steps=3)
"""


@pytest.mark.parametrize(
    ("group", "use"), [("analysis", USE_ANALYSIS_KERNELS), ("tiles", USE_TILE_KERNELS)]
)
def test_a_compiled_group_leaves_nothing_to_compile(group, use, tmp_path):
    script = f"from vegdask.kernels import compile_kernels\ncompile_kernels(({group!r},))\n"
    script += "print('--- compiled', flush=True)\n" + use
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"},
    )
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.split("--- compiled")
    assert re.search(r"data saved to", before)  # the group did compile into the empty cache
    assert not re.findall(r"data saved to '([^']+)'", after)


def test_an_unknown_group_is_named():
    with pytest.raises(ValueError, match=r"unknown kernel groups \['plots'\]"):
        compile_kernels(("plots",))
