"""Spatial indicators (Kefi 2014) and the crystal-ball annual-cycle fit against plain references."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from vegdask.analysis import (
    coarse_grain,
    crystal_ball,
    crystal_ball_fit,
    morans_i,
    patch_sizes,
    radial_spectrum,
    spatial_indicators,
    spatial_indicators_through_time,
)


def _morans_i_loops(x):
    ny, nx_ = x.shape
    m = x.mean()
    num = w = 0.0
    for i in range(ny):
        for j in range(nx_):
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < ny and 0 <= b < nx_:
                    num += (x[i, j] - m) * (x[a, b] - m)
                    w += 1
    return x.size / w * num / ((x - m) ** 2).sum()


def test_morans_i_and_coarse_grain_against_loops():
    rng = np.random.default_rng(0)
    x = ndimage.gaussian_filter(rng.standard_normal((17, 23)), 2)
    assert morans_i(x) == pytest.approx(_morans_i_loops(x))
    cg = coarse_grain(x, 5)
    assert cg.shape == (3, 4)
    assert cg[1, 2] == pytest.approx(x[5:10, 10:15].mean())


def test_radial_spectrum_peaks_at_pattern_wavenumber():
    yy, xx = np.indices((64, 64))
    k, spec = radial_spectrum(np.sin(2 * np.pi * 8 * xx / 64) + np.cos(2 * np.pi * 8 * yy / 64))
    assert k[np.argmax(spec)] == 8


def test_patch_sizes_against_networkx():
    mask = np.random.default_rng(1).random((30, 30)) > 0.55
    graph = nx.grid_2d_graph(30, 30)
    graph.remove_nodes_from([tuple(p) for p in np.argwhere(~mask)])
    ref = sorted((len(c) for c in nx.connected_components(graph)), reverse=True)
    assert patch_sizes(mask).tolist() == ref


def test_permutation_nulls_detect_structure_only_when_present():
    rng = np.random.default_rng(2)
    smooth = ndimage.gaussian_filter(rng.standard_normal((60, 60)), 3)
    res = spatial_indicators(smooth, n_permutations=99)
    assert res["morans_i"]["p_value"] == pytest.approx(0.01)
    assert res["cg_variance"]["p_value"] == pytest.approx(0.01)
    assert res["sdr"]["p_value"] == pytest.approx(0.01)
    field = rng.standard_normal((60, 60))
    noise = spatial_indicators(field, n_permutations=99)
    assert noise["morans_i"]["p_value"] > 0.05
    assert noise["patches"] is None  # a continuous field without a vegetation mask
    assert noise["cg_skewness"]["value"] == pytest.approx(
        stats.skew(coarse_grain(field, 5).ravel())
    )
    assert noise["cg_variance"]["value"] == pytest.approx(np.var(coarse_grain(field, 5), ddof=1))


def test_binary_field_is_its_own_vegetation_mask():
    # The example: cover 0.6 above the median rule's 0.5 (which gave cover 0, 0 patches).
    field = np.zeros((20, 20))
    field[:, :12] = 1
    patches = spatial_indicators(field, n_permutations=9)["patches"]
    assert patches["cover"] == 0.6
    assert patches["n_patches"] == 1
    assert patches["largest_patch_fraction"] == 0.6
    field[0, 15] = 1  # a second patch of one pixel; NaN (missing) is not vegetation
    field[5:7, 5:7] = np.nan
    patches = spatial_indicators(field, n_permutations=9)["patches"]
    assert patches["n_patches"] == 2
    assert patches["cover"] == pytest.approx((240 - 4 + 1) / 400)


def test_explicit_mask_is_used_and_checked():
    rng = np.random.default_rng(5)
    field = rng.standard_normal((30, 30))
    mask = ndimage.gaussian_filter(rng.standard_normal((30, 30)), 2) > 0.1
    patches = spatial_indicators(field, mask=mask, n_permutations=9)["patches"]
    assert patches["cover"] == pytest.approx(mask.mean())
    assert patches["n_patches"] == ndimage.label(mask)[1]
    with pytest.raises(ValueError, match="mask shape"):
        spatial_indicators(field, mask=mask[:10], n_permutations=9)


def test_through_time_rows():
    rng = np.random.default_rng(3)
    frames = rng.standard_normal((3, 30, 30))
    times = pd.date_range("2020", periods=3)
    df = spatial_indicators_through_time(frames, times, n_permutations=9)
    assert len(df) == 3
    assert {"morans_i", "morans_i_p_value"} <= set(df)
    assert not any(c.startswith("patch_") for c in df)  # no vegetation mask, no patch summary
    masks = frames > 1.0
    df = spatial_indicators_through_time(frames, times, masks=masks, n_permutations=9)
    np.testing.assert_allclose(df["patch_cover"], masks.mean(axis=(1, 2)))


def test_crystal_ball_fit_recovers_shape():
    x = np.arange(1, 13.0)
    true = crystal_ball(x, 1.2, 3.0, 7.5, 1.5)
    values = true[::-1]  # reversed so the fit's own reversal restores the shape
    idx = pd.date_range("2016-01-01", periods=36, freq="MS")
    series = pd.Series(np.tile(np.roll(values, 1), 3), idx)
    fit = crystal_ball_fit(series)
    assert fit["CB_fit_success"]
    assert fit["CB_fit_residuals"] < 1e-3
    start = float(np.sum((crystal_ball(x, 1.5, 150.0, 8.0, 2.0) - np.asarray(fit["pmf"])) ** 2))
    assert fit["CB_fit_residuals"] <= start  # a magnitude, minimised, not a signed sum
    assert fit["return_rate"] == pytest.approx(fit["CB_fit_alpha"] ** 2 / 2)
    with pytest.raises(ValueError, match="every calendar month"):
        crystal_ball_fit(series.iloc[:6])


def _reference_null(field, n_permutations, seed):
    """The null drawn image by image with the plain one-image functions: rng.permutation each."""

    def sdr(image):
        k, spec = radial_spectrum(image)
        low, high = k[0] + 0.2 * (k[-1] - k[0]), k[0] + 0.8 * (k[-1] - k[0])
        return spec[k <= low].mean() / spec[k >= high].mean()

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_permutations):
        image = rng.permutation(field.ravel()).reshape(field.shape)
        cg = coarse_grain(image, 5).ravel()
        cg = cg[np.isfinite(cg)]
        rows.append([np.var(cg, ddof=1), stats.skew(cg), morans_i(image), sdr(image)])
    return dict(
        zip(("cg_variance", "cg_skewness", "morans_i", "sdr"), np.array(rows).T, strict=True)
    )


@pytest.mark.parametrize("gaps", [False, True])
def test_permutation_null_against_image_by_image_reference(gaps):
    rng = np.random.default_rng(7)
    field = ndimage.gaussian_filter(rng.standard_normal((48, 52)), 1.5) + 0.3
    if gaps:
        field[5:12, 30:41] = np.nan
    ref = _reference_null(field, 40, seed=11)
    out = spatial_indicators(field, n_permutations=40, seed=11)
    for name, null in ref.items():
        assert out[name]["null_mean"] == pytest.approx(null.mean(), rel=1e-5), name
        assert out[name]["null_sd"] == pytest.approx(null.std(), rel=1e-4), name
        p = (np.sum(null >= out[name]["value"]) + 1) / 41
        assert out[name]["p_value"] == pytest.approx(p), name


def test_through_time_uses_the_same_shuffles_as_one_image():
    rng = np.random.default_rng(8)
    frames = ndimage.gaussian_filter(rng.standard_normal((11, 30, 30)), (0, 1, 1))
    df = spatial_indicators_through_time(frames, pd.date_range("2020", periods=11), seed=4)
    for t in (0, 10):  # periods in the first and the second task
        one = spatial_indicators(frames[t], seed=4)
        for name in ("cg_variance", "morans_i", "sdr"):
            assert df[f"{name}_p_value"].iloc[t] == one[name]["p_value"]
            assert df[name].iloc[t] == one[name]["value"]
