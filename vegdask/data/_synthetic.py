"""The offline synthetic source: a Rietkerk simulation seen as a multispectral satellite sees it.

The biomass field of :func:`vegdask.kernels.rietkerk_evolve` is simulated under a rainfall schedule,
one time step a day, on cells of ``cell_size`` metres, then resampled to pixels of ``resolution``
metres. Biomass becomes vegetation cover ``f = P / (P + half_cover)`` and reflectances mix bare soil
and vegetation linearly (soil NDVI ~0.12, dense vegetation ~0.77), with seeded noise and optional
clouds. Weather is the simulated rainfall (mm per period) and a seasonal temperature. Everything is
deterministic for a given seed.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from scipy import ndimage

from vegdask import config
from vegdask.data._periods import make_periods
from vegdask.data._scene import (
    BANDS,
    assemble_scene,
    compute_ndvi,
    default_chunks,
    scene_grid,
)
from vegdask.kernels import PUBLISHED_PARAMETERS, RietkerkParameters, rietkerk_evolve

__all__ = ["DEMO_LOCATION", "SYNTHETIC_RAINFALL_END", "synthetic_location", "synthetic_scene"]

# pyveg's location "00" region (Sudan, spotted and labyrinthine vegetation), used by the demo.
DEMO_LOCATION = (27.94, 11.58)
# Reflectance of bare soil and of full vegetation cover, per band.
_SOIL = {"red": 0.22, "green": 0.16, "blue": 0.10, "nir": 0.28}
_VEGETATION = {"red": 0.05, "green": 0.10, "blue": 0.05, "nir": 0.38}
_CLOUD = 0.55
_HALF_COVER = 10.0  # g/m^2 of biomass for half vegetation cover
_RAIN_CORRELATION = 250.0  # metres: the size of a patch of more or less rain (half a tile)
#: Rainfall (mm/day) at the end of a ``"declining"`` location's path (:func:`synthetic_location`).
SYNTHETIC_RAINFALL_END = 0.5
# A campaign site's seasonal cycle and rain patchiness (synthetic_location).
_SITE_SEASONALITY = 0.1
_SITE_PATCHINESS = 0.05
_SITE_SPINUP_YEARS = 2
# The model's state: biomass, soil water, surface water.
_State = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]
# The warm-up's random streams (rain noise, patches), apart from the record's (3, 4).
_WARMUP_STREAM = 5


def synthetic_location(location_id: str) -> tuple[str, dict[str, Any]]:
    """A campaign location's own synthetic site, seeded by its id: its rainfall path and options.

    The CRC-32 of the id decides: an odd one gets rainfall declining from its level to
    :data:`SYNTHETIC_RAINFALL_END` mm/day (towards collapse), an even one stable rainfall at its
    level. The level (1.1 to 1.4 mm/day) and the seed of the initial pattern come from the id
    too, so every location has its own pattern.

    Every site's rain also varies between places (``rainfall_patchiness``: patches of ~250 m
    getting about 5 % more or less than the site's mean, afresh every month) and has a milder
    seasonal cycle than the single-location demo's (``rainfall_seasonality``: +-10 %). The
    patches are the perturbations the vegetation recovers from, slower and slower as a declining
    site nears collapse (critical slowing down: the AR(1) of its tiles rises), at the same pace
    throughout at a stable site. A stronger seasonal cycle, which every tile answers in its own
    way, hides the slowing down from the pooled test of 9 tiles (docs/pipeline.md, campaigns).
    Two years of that rain regime run before the record (``spinup_years``), so that it does not
    start in the transient of switching the seasonal cycle and the patches on.

    Returns
    -------
    path : {"declining", "stable"}
        The rainfall path: the known truth of the location.
    options : dict
        The synthetic source's ``seed``, ``rainfall_start``, ``rainfall_end``,
        ``rainfall_seasonality``, ``rainfall_patchiness`` and ``spinup_years``.

    Examples
    --------
    >>> synthetic_location("00")[0], synthetic_location("04")[0]
    ('stable', 'declining')
    >>> synthetic_location("04")[1]  # doctest: +NORMALIZE_WHITESPACE
    {'seed': 19737, 'rainfall_start': 1.19, 'rainfall_end': 0.5,
     'rainfall_seasonality': 0.1, 'rainfall_patchiness': 0.05, 'spinup_years': 2}
    """
    digest = zlib.crc32(str(location_id).encode())
    level = round(float(np.random.default_rng(digest).uniform(1.1, 1.4)), 2)
    declining = digest % 2 == 1
    end = SYNTHETIC_RAINFALL_END if declining else level
    options = {
        "seed": digest % 100_000,
        "rainfall_start": level,
        "rainfall_end": end,
        "rainfall_seasonality": _SITE_SEASONALITY,
        "rainfall_patchiness": _SITE_PATCHINESS,
        "spinup_years": _SITE_SPINUP_YEARS,
    }
    return ("declining" if declining else "stable"), options


def _rain_field(
    rainfall: float,
    shape: tuple[int, int],
    patchiness: float,
    cells: float,
    stream: tuple[int, int],
    t: int,
) -> float | npt.NDArray[np.float64]:
    """Period t's rain (mm/day): ``rainfall`` everywhere, or varying between places.

    With ``patchiness`` > 0 the rain is ``rainfall * exp(patchiness * g - patchiness**2 / 2)``,
    ``g`` a smooth Gaussian random field of mean 0 and variance 1 over the scene (correlation
    length ``cells`` cells) drawn afresh every period (seeded by ``(*stream, t)``): the mean over
    places stays ``rainfall`` (to ~0.1 %), its coefficient of variation between places is about
    ``patchiness``.
    """
    if not patchiness:
        return rainfall
    rng = np.random.default_rng([*stream, t])
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=cells, mode="wrap")
    field = (field - field.mean()) / field.std()
    return rainfall * np.exp(patchiness * field - patchiness**2 / 2)


def _simulate_biomass(
    shape: tuple[int, int],
    rainfall: npt.NDArray[np.float64],
    steps_per_period: npt.NDArray[np.int64],
    spinup_steps: int,
    parameters: RietkerkParameters,
    seed: int,
    patchiness: float = 0.0,
    warmup: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None,
) -> npt.NDArray[np.float32]:
    """Biomass at the end of each period, (T, cells_y, cells_x).

    ``spinup_steps`` days at the first period's mean rain form the pattern, then the ``warmup``
    periods' rain and days (:func:`_warmup_rainfall`) run unrecorded.
    """
    rng = np.random.default_rng([seed, 0])
    first = float(rainfall[0])
    p = np.where(rng.random(shape) > 0.9, 90.0, 0.0)
    w = np.full(shape, first / parameters.rw)
    o = np.full(shape, first / (parameters.alpha * parameters.w0))
    state = rietkerk_evolve(p, w, o, rainfall=first, steps=spinup_steps, parameters=parameters)
    if warmup is not None:
        state = _run_periods(state, *warmup, parameters, patchiness, (seed, _WARMUP_STREAM))
    out = np.empty((len(rainfall), *shape), dtype=np.float32)
    _run_periods(state, rainfall, steps_per_period, parameters, patchiness, (seed, 4), out)
    return out


def _run_periods(
    state: _State,
    rainfall: npt.NDArray[np.float64],
    steps_per_period: npt.NDArray[np.int64],
    parameters: RietkerkParameters,
    patchiness: float,
    stream: tuple[int, int],
    out: npt.NDArray[np.float32] | None = None,
) -> _State:
    """The state after the periods (each its mean rain and days), their biomass into ``out``."""
    cells = _RAIN_CORRELATION / parameters.dx
    shape = state[0].shape
    for t, (r, steps) in enumerate(zip(rainfall, steps_per_period, strict=True)):
        rain = _rain_field(float(r), shape, patchiness, cells, stream, t)
        state = rietkerk_evolve(*state, rainfall=rain, steps=int(steps), parameters=parameters)
        if out is not None:
            out[t] = state[0]
    return state


def _period_bands(
    biomass: npt.NDArray[np.float32], t: int, shape: tuple[int, int], seed: int, cloud_chance: float
) -> npt.NDArray[np.float32]:
    """Bands red, green, blue, nir, ndvi and the cloud mask of period t, stacked (6, y, x)."""
    rng = np.random.default_rng([seed, 1, t])
    zoom = (shape[0] / biomass.shape[1], shape[1] / biomass.shape[2])
    p = np.clip(ndimage.zoom(biomass[t].astype(np.float64), zoom, order=1), 0, None)
    cover = p / (p + _HALF_COVER)
    clouds = np.zeros(shape, dtype=bool)
    if rng.random() < cloud_chance:
        field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=min(shape) / 12)
        clouds = field > np.quantile(field, 1 - rng.uniform(0.05, 0.6))
    bands = {}
    for band in BANDS:
        value = _SOIL[band] + (_VEGETATION[band] - _SOIL[band]) * cover
        value = value + rng.normal(0.0, 0.008, shape)
        bands[band] = np.where(clouds, _CLOUD, value).astype(np.float32)
    ndvi = compute_ndvi(bands["red"], bands["nir"])
    return np.stack([*(bands[b] for b in BANDS), ndvi, clouds.astype(np.float32)])


def _demo_rainfall(
    mids: pd.DatetimeIndex,
    start: float,
    stop: float,
    seed: int,
    seasonality: float,
    stream: int = 3,
) -> npt.NDArray[np.float64]:
    """A linear decline with a seasonal cycle (wet season peaking in August) and 10 % noise."""
    trend = np.linspace(start, stop, len(mids))
    season = seasonality * np.cos(2 * np.pi * (mids.month.to_numpy() - 8) / 12)
    noise = np.random.default_rng([seed, stream]).normal(0.0, 0.1, len(mids))
    return np.clip(trend * (1 + season + noise), 0.05, None)


def _warmup_rainfall(
    start: str, period: str, years: int, level: float, seed: int, seasonality: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The ``years`` before ``start``: their periods' mean rain (``level``, season, noise), days."""
    first = (pd.Timestamp(start) - pd.DateOffset(years=years)).strftime("%Y-%m-%d")
    periods = make_periods(first, start, period)
    mids = pd.DatetimeIndex(periods["mid"])
    days = (periods["end"] - periods["start"]).dt.days.to_numpy()
    return _demo_rainfall(mids, level, level, seed, seasonality, _WARMUP_STREAM), days


def synthetic_scene(
    start: str = "2016-01-01",
    end: str = "2020-01-01",
    period: str = "1m",
    *,
    size: int = 500,
    resolution: float = 10.0,
    location: tuple[float, float] = DEMO_LOCATION,
    rainfall: tuple[float, float] | None = None,
    parameters: RietkerkParameters | None = None,
    cell_size: float = 25.0,
    spinup_steps: int = 3000,
    cloud_chance: float = 0.1,
    seed: int | None = None,
    rainfall_seasonality: float | None = None,
    rainfall_patchiness: float | None = None,
    spinup_years: int | None = None,
    chunks: dict[str, int] | None = None,
) -> tuple[xr.Dataset, xr.Dataset]:
    """A lazy synthetic Scene and its weather.

    A synthetic source's option left as None takes its setting,
    ``vegdask.source.synthetic.<option>`` (``vegdask.yaml``; ``_`` written ``-``).

    Parameters
    ----------
    start, end, period : str
        The date range and period length (see :func:`vegdask.data.make_periods`).
    size : int, default 500
        Scene side in pixels (500 px = 10 x 10 tiles of 50 px).
    resolution : float, default 10
        Pixel size in metres (Sentinel-2's 10 m).
    location : (float, float)
        Longitude and latitude of the scene centre (sets the UTM CRS and coordinates).
    rainfall : (float, float), optional
        Mean rainfall (mm/day) in the first and last period; in between it declines linearly with a
        seasonal cycle, which takes the pattern from gaps through labyrinths to spots. The
        settings ``rainfall-start`` and ``rainfall-end`` (1.3 and 0.6 as packaged) by default.
    parameters : RietkerkParameters, optional
        The model; the published set (Rietkerk et al. 2002) on ``cell_size`` cells by default.
    cell_size : float, default 25
        Simulation cell size in metres.
    spinup_steps : int, default 3000
        Days simulated at the first rainfall before the first period.
    cloud_chance : float, default 0.1
        Probability that a period has clouds (covering 5-60 % of the scene).
    seed : int, optional
        Seed of the initial pattern, noise and clouds; the setting (0 as packaged) by default.
    rainfall_seasonality : float, optional
        Amplitude of the seasonal cycle as a share of the mean (wettest month ``1 +`` it); the
        setting (0.25 as packaged) by default.
    rainfall_patchiness : float, optional
        How much each period's rain varies between places (its coefficient of variation over
        patches of ~250 m, drawn afresh every period; the mean over places is unchanged): the
        perturbations from which the vegetation recovers, slower as it nears collapse. 0 (the
        setting as packaged): the same rain everywhere.
    spinup_years : int, optional
        Years simulated after the spin-up days and before ``start``, unrecorded, under the
        record's rain regime at its first level (the seasonal cycle, the monthly noise and the
        patches; periods as the record's), so that the record starts where the vegetation has
        settled into that regime rather than in the transient of switching it on. The setting
        (0 as packaged) by default.
    chunks : dict, optional
        Scene chunks; :func:`vegdask.data.default_chunks` by default.

    Returns
    -------
    scene, weather : xarray.Dataset
        The lazy Scene (dims time, y, x) and weather (dim time).

    Examples
    --------
    >>> scene, weather = synthetic_scene("2016-01-01", "2016-04-01", size=100, spinup_steps=10)
    >>> dict(scene.sizes), scene.rio.crs.to_epsg()
    ({'time': 3, 'y': 100, 'x': 100}, 32635)
    >>> weather["total_precipitation"].dims
    ('time',)
    """
    seed = config.get("source.synthetic.seed", seed)
    if rainfall is None:
        rainfall = (
            config.get("source.synthetic.rainfall-start"),
            config.get("source.synthetic.rainfall-end"),
        )
    rainfall_seasonality = config.get("source.synthetic.rainfall-seasonality", rainfall_seasonality)
    rainfall_patchiness = config.get("source.synthetic.rainfall-patchiness", rainfall_patchiness)
    spinup_years = config.get("source.synthetic.spinup-years", spinup_years)
    periods = make_periods(start, end, period)
    mids = pd.DatetimeIndex(periods["mid"])
    days = (periods["end"] - periods["start"]).dt.days.to_numpy()
    parameters = parameters or replace(PUBLISHED_PARAMETERS, dx=cell_size)
    daily_rain = _demo_rainfall(mids, *rainfall, seed, rainfall_seasonality)
    cells = max(round(size * resolution / parameters.dx), 2)
    warmup = None
    if spinup_years:
        warmup = _warmup_rainfall(
            start, period, spinup_years, rainfall[0], seed, rainfall_seasonality
        )
    biomass = dask.delayed(_simulate_biomass, pure=True)(
        (cells, cells),
        daily_rain,
        days,
        spinup_steps,
        parameters,
        seed,
        rainfall_patchiness,
        warmup,
    )
    shape = (size, size)
    per_period = [
        da.from_delayed(
            dask.delayed(_period_bands, pure=True)(biomass, t, shape, seed, cloud_chance),
            shape=(6, *shape),
            dtype=np.float32,
        )
        for t in range(len(mids))
    ]
    stack = da.stack(per_period, axis=1)  # (band, time, y, x)
    chunks = chunks or default_chunks()
    epsg, x, y = scene_grid(location, size, resolution)
    attrs = {
        "source": "synthetic",
        "collection": "vegdask/rietkerk-synthetic",
        "location": f"{location[0]:.4f},{location[1]:.4f}",
        "resolution": float(resolution),
        "seed": int(seed),
    }
    scene = assemble_scene(stack, periods, x=x, y=y, crs=f"EPSG:{epsg}", attrs=attrs, chunks=chunks)
    weather = xr.Dataset(
        {
            "total_precipitation": ("time", daily_rain * days, {"units": "mm"}),
            "mean_2m_air_temperature": ("time", _temperature(mids, seed), {"units": "K"}),
        },
        coords={"time": ("time", mids.to_numpy())},
        attrs={"source": "synthetic", "collection": "vegdask/rietkerk-synthetic"},
    )
    return scene, weather


def _temperature(mids: pd.DatetimeIndex, seed: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng([seed, 2])
    season = 4.0 * np.cos(2 * np.pi * (mids.month.to_numpy() - 5) / 12)
    return 300.0 + season + rng.normal(0.0, 0.5, len(mids))
