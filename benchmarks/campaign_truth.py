"""Can the demo campaign's verdicts find its synthetic truth? (docs/pipeline.md, campaigns)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/campaign_truth.py sites --first 0 --last 31
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/campaign_truth.py slowing
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/campaign_truth.py warmup --last 127

``sites``: each campaign site ``id`` (:func:`vegdask.data.synthetic_location`) simulated as the
demo campaign does (its scene size and dates, :data:`vegdask.pipeline.DEMO_CAMPAIGN`), its
tiles' offset50 and NDVI tested by :func:`vegdask.analysis.pooled_early_warning` (AR(1), the
demo's surrogates, seed 0), the verdict's rule applied (the smaller p below 0.05 / 2); per
path, how many sites are significant, and at the stable sites how the NDVI p-values spread
(under the null they are uniform: a share ``q`` of them below ``q``).
``slowing``: critical slowing down in the model itself, quasi-statically: a site's rainfall
lowered in steps of 0.05 mm/day (1,500 days each), then 96 months of patchy rain at that level;
the mean monthly AR(1) of its tiles' NDVI (site mean removed, Gaussian-detrended as the pooled
test does) at each level.
``warmup``: the transient a record starts in without the warm-up (``spinup_years``): each site's
biomass simulated as the demo campaign's, its tiles' vegetation cover tested by the pooled test
(AR(1)), with and without the warm-up; per path, the mean pooled tau and the sites with p
below 0.025.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pandas as pd

import vegdask.compute  # noqa: F401  (registers scene.veg)
from vegdask.analysis import detrend, pooled_early_warning
from vegdask.analysis._series import tile_panel
from vegdask.data import make_periods, synthetic_location, synthetic_scene
from vegdask.data._synthetic import (
    _HALF_COVER,
    _RAIN_CORRELATION,
    _demo_rainfall,
    _rain_field,
    _simulate_biomass,
    _warmup_rainfall,
)
from vegdask.kernels import PUBLISHED_PARAMETERS, rietkerk_evolve
from vegdask.pipeline import DEMO_CAMPAIGN

LEVEL = 0.025  # alpha 0.05 shared by the verdict's two tests


def site_test(site_id: str) -> tuple[str, dict[str, float]]:
    """A site's truth and the pooled AR(1) p-values of its offset50 and NDVI tiles."""
    path, options = synthetic_location(site_id)
    rainfall = (options.pop("rainfall_start"), options.pop("rainfall_end"))
    time = DEMO_CAMPAIGN["time"]
    size = DEMO_CAMPAIGN["location"]["size"]
    scene, _ = synthetic_scene(
        time["start"], time["end"], time["period"], size=size, rainfall=rainfall, **options
    )
    tiles = scene.veg.tile_metrics(graph_class="bare").compute(scheduler="synchronous")
    p_values = {}
    for var in ("offset50", "ndvi_mean"):
        test = pooled_early_warning(
            tile_panel(tiles, var),
            indicators=("ar1",),
            n_surrogates=DEMO_CAMPAIGN["analysis"]["n_surrogates"],
            seed=0,
        )
        p_values[var] = test.stats["ar1"]["p_value"]
    return path, p_values


def _sites(args: argparse.Namespace) -> None:
    hits: dict[str, list[bool]] = {"declining": [], "stable": []}
    stable_ndvi = []
    for number in range(args.first, args.last + 1):
        site_id = f"{number:02d}"
        path, p_values = site_test(site_id)
        significant = min(p_values.values()) < LEVEL
        hits[path].append(significant)
        if path == "stable":
            stable_ndvi.append(p_values["ndvi_mean"])
        shown = ", ".join(f"{k} p {v:.3f}" for k, v in p_values.items())
        print(f"{site_id} {path:9} {shown}{'  significant' if significant else ''}", flush=True)
    for path, flags in hits.items():
        print(f"{path}: {sum(flags)} of {len(flags)} significant")
    below = {q: int(np.sum(np.array(stable_ndvi) < q)) for q in (0.025, 0.05, 0.1, 0.25, 0.5)}
    print("stable, NDVI p below q:", ", ".join(f"{q}: {n}" for q, n in below.items()))


def _cover_test(site_id: str, warmup_years: int) -> tuple[str, float, float]:
    """A site's truth, pooled AR(1) tau and p of its tiles' cover (simulated cells, no imagery)."""
    path, options = synthetic_location(site_id)
    time = DEMO_CAMPAIGN["time"]
    periods = make_periods(time["start"], time["end"], time["period"])
    mids = pd.DatetimeIndex(periods["mid"])
    days = (periods["end"] - periods["start"]).dt.days.to_numpy()
    level, seed, season = (
        options["rainfall_start"],
        options["seed"],
        options["rainfall_seasonality"],
    )
    rain = _demo_rainfall(mids, level, options["rainfall_end"], seed, season)
    warmup = None
    if warmup_years:
        warmup = _warmup_rainfall(time["start"], time["period"], warmup_years, level, seed, season)
    parameters = replace(PUBLISHED_PARAMETERS, dx=25.0)
    tiles = DEMO_CAMPAIGN["location"]["size"] // 50  # tiles of 50 px of 10 m: 20 cells of 25 m
    biomass = _simulate_biomass(
        (20 * tiles,) * 2, rain, days, 3000, parameters, seed,
        options["rainfall_patchiness"], warmup,
    )  # fmt: skip
    cover = biomass / (biomass + _HALF_COVER)
    means = cover.reshape(len(mids), tiles, 20, tiles, 20).mean((2, 4)).reshape(len(mids), -1)
    test = pooled_early_warning(
        pd.DataFrame(means, index=mids), indicators=("ar1",), n_surrogates=200, seed=0
    )
    return path, test.stats["ar1"]["kendall_tau"], test.stats["ar1"]["p_value"]


def _warmup(args: argparse.Namespace) -> None:
    print("| warm-up (years) | path | sites | mean pooled tau | p < 0.025 |")
    print("|---|---|---|---|---|")
    for years in (0, 2):
        found: dict[str, list[tuple[float, float]]] = {"declining": [], "stable": []}
        for number in range(args.first, args.last + 1):
            path, tau, p = _cover_test(f"{number:02d}", years)
            found[path].append((tau, p))
        for path, results in found.items():
            if not results:
                continue
            taus, ps = np.array(results).T
            shown = f"{taus.mean():.3f} | {int(np.sum(ps < LEVEL))}"
            print(f"| {years} | {path} | {len(taus)} | {shown} |", flush=True)


def _slowing(args: argparse.Namespace) -> None:
    parameters = replace(PUBLISHED_PARAMETERS, dx=25.0)
    cells, tile = 60, 20  # 1.5 km, tiles of 500 m as the demo campaign's
    rng = np.random.default_rng(args.seed)
    shape = (cells, cells)
    p = np.where(rng.random(shape) > 0.9, 90.0, 0.0)
    w = np.full(shape, 1.3 / parameters.rw)
    o = np.full(shape, 1.3 / (parameters.alpha * parameters.w0))
    state = rietkerk_evolve(p, w, o, rainfall=1.3, steps=3000, parameters=parameters)
    print("| rainfall (mm/day) | tiles' NDVI AR(1) | vegetated cells |")
    print("|---|---|---|")
    for rainfall in np.arange(1.3, 0.39, -0.05):
        state = rietkerk_evolve(*state, rainfall=rainfall, steps=1500, parameters=parameters)
        biomass = []
        for t in range(96):
            rain = _rain_field(
                rainfall,
                shape,
                args.patchiness,
                _RAIN_CORRELATION / parameters.dx,
                (args.seed, 4),
                t,
            )
            state = rietkerk_evolve(*state, rainfall=rain, steps=30, parameters=parameters)
            biomass.append(state[0])
        cover = np.array(biomass) / (np.array(biomass) + _HALF_COVER)
        k = cells // tile
        means = cover.reshape(96, k, tile, k, tile).mean((2, 4)).reshape(96, -1).T
        anomalies = means - means.mean(axis=0)
        resid = anomalies - detrend(anomalies)
        ar1 = [pd.Series(r).autocorr() for r in resid if np.std(r) > 0]  # NDVI: linear in cover
        shown = f"{np.mean(ar1):.2f}" if ar1 else "-"
        print(f"| {rainfall:.2f} | {shown} | {(state[0] > 1).mean():.1%} |", flush=True)
        if not (state[0] > 1).any():
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sites = sub.add_parser("sites", help="the verdicts of campaign sites against their truth")
    sites.add_argument("--first", type=int, default=0)
    sites.add_argument("--last", type=int, default=31)
    slowing = sub.add_parser("slowing", help="AR(1) against a quasi-static rainfall decline")
    slowing.add_argument("--patchiness", type=float, default=0.05)
    slowing.add_argument("--seed", type=int, default=0)
    warmup = sub.add_parser("warmup", help="the tiles' cover with and without the warm-up")
    warmup.add_argument("--first", type=int, default=0)
    warmup.add_argument("--last", type=int, default=127)
    args = parser.parse_args()
    {"sites": _sites, "slowing": _slowing, "warmup": _warmup}[args.what](args)


if __name__ == "__main__":
    main()
