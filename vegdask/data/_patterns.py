"""Simulated vegetation patterns as images, and model parameters from files.

The Rietkerk model runs from a seeded (or given) start; parameter files use vegdask's keys or
pyveg's ``patternGenConfig.json`` keys.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vegdask import config
from vegdask.kernels import PYVEG_PARAMETERS, RietkerkParameters, rietkerk_evolve

__all__ = ["binarise_biomass", "load_parameters", "simulate_pattern"]

# pyveg's patternGenConfig.json keys -> RietkerkParameters fields.
_PYVEG_KEYS = {
    "c": "c", "gmax": "gmax", "k1": "k1", "d": "d", "beta": "beta", "alpha": "alpha", "k2": "k2",
    "W0": "w0", "rw": "rw", "DifP": "dp", "DifW": "dw", "DifO": "do", "DeltaX": "dx",
}  # fmt: skip
# pyveg keys that describe the grid or the start, not the model.
_PYVEG_IGNORED = {"m", "DeltaY", "vmass", "frac", "R"}


def load_parameters(path: str | Path) -> RietkerkParameters:
    """Model parameters from a JSON or TOML file, over pyveg's set.

    Keys are the :class:`RietkerkParameters` fields (``c``, ``gmax``, ``k1``, ``d``, ``beta``,
    ``alpha``, ``k2``, ``w0``, ``rw``, ``dp``, ``dw``, ``do``, ``dx``) or pyveg's (``W0``, ``DifP``,
    ``DifW``, ``DifO``, ``DeltaX`` ...).

    Raises
    ------
    ValueError
        For an unreadable file, an unknown key or a value that is not a number.
    """
    path = Path(path)
    try:
        raw = (
            json.loads(path.read_text())
            if path.suffix == ".json"
            else tomllib.loads(path.read_text())
        )
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read parameters from {path}: {err}") from err
    known = {f.name for f in fields(RietkerkParameters)}
    values = {}
    for key, value in raw.items():
        if key in _PYVEG_IGNORED:
            continue
        name = _PYVEG_KEYS.get(key, key)
        if name not in known:
            raise ValueError(f"{path}: unknown parameter {key!r}; allowed: {sorted(known)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{path}: parameter {key!r} must be a number, got {value!r}")
        values[name] = float(value)
    return replace(PYVEG_PARAMETERS, **values)


def simulate_pattern(
    *,
    rainfall: float | None = None,
    steps: int | None = None,
    size: int | None = None,
    seed: int | None = None,
    parameters: RietkerkParameters = PYVEG_PARAMETERS,
    start: npt.ArrayLike | None = None,
    dt: float = 1.0,
) -> npt.NDArray[np.float64]:
    """Plant biomass after ``steps`` days at constant rainfall.

    The start is ``start`` (rescaled to a maximum of 90 g/m^2, as pyveg did) or, seeded, 90 g/m^2 on
    about 10 % of the cells; the water starts at its bare-soil equilibrium. ``rainfall``
    (mm/day), ``steps``, ``size`` (cells per side) and ``seed`` left as None take their settings
    ``vegdask.simulate.*`` (1.0, 1000, 50, 0).

    Examples
    --------
    >>> p = simulate_pattern(rainfall=1.0, steps=10, size=20)
    >>> p.shape, bool(p.max() > 0)
    ((20, 20), True)
    """
    rainfall = config.get("simulate.rainfall", rainfall)
    steps = config.get("simulate.steps", steps)
    if start is None:
        size = config.get("simulate.size", size)
        rng = np.random.default_rng(config.get("simulate.seed", seed))
        biomass = np.where(rng.random((size, size)) > 0.9, 90.0, 0.0)
    else:
        biomass = np.asarray(start, dtype=np.float64)
        peak = biomass.max()
        biomass = biomass * (90.0 / peak) if peak > 0 else biomass
    soil = np.full(biomass.shape, rainfall / parameters.rw)
    surface = np.full(biomass.shape, rainfall / (parameters.alpha * parameters.w0))
    return rietkerk_evolve(
        biomass, soil, surface, rainfall=rainfall, steps=steps, dt=dt, parameters=parameters
    )[0]


def binarise_biomass(biomass: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """A simulated (Rietkerk) biomass field as pyveg's black-and-white image.

    255 below ``(q90 + q10) / 2`` (bare soil), else 0 (vegetation).

    Examples
    --------
    >>> binarise_biomass([[0.0, 10.0], [0.0, 10.0]])
    array([[255,   0],
           [255,   0]], dtype=uint8)
    """
    arr = np.asarray(biomass, dtype=np.float64)
    threshold = (np.quantile(arr, 0.9) + np.quantile(arr, 0.1)) / 2
    return np.where(arr < threshold, 255, 0).astype(np.uint8)
