"""The Rietkerk et al. (2002) patterned-vegetation model, explicit Euler, as a numba kernel.

    dO/dt = R - alpha O (P + k2 W0) / (P + k2) + Do lap(O)
    dW/dt = alpha O (P + k2 W0) / (P + k2) - gmax W / (W + k1) P - rw W + Dw lap(W)
    dP/dt = (c gmax W / (W + k1) - (d + beta)) P + Dp lap(P)

O is surface water (mm), W soil water (mm), P plant biomass (g/m^2), R rainfall (mm/day). The
grazing loss ``beta`` is pyveg's addition (0 in the published model). Boundaries are no-flux; the
Laplacian is the 5-point finite-volume one of cells ``dx`` metres wide. Explicit Euler needs
``Do * dt / dx**2 <= 0.25``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["PUBLISHED_PARAMETERS", "PYVEG_PARAMETERS", "RietkerkParameters", "rietkerk_evolve"]


@dataclass(frozen=True)
class RietkerkParameters:
    """Parameters of the Rietkerk model (units: days, mm, g/m^2, metres).

    Examples
    --------
    >>> PYVEG_PARAMETERS.d, PUBLISHED_PARAMETERS.d
    (0.1, 0.25)
    """

    c: float = 10.0  # plant uptake constant (g/mm/m^2)
    gmax: float = 0.05  # plant growth constant (mm/g/m^2/d)
    k1: float = 5.0  # half saturation of uptake and growth (mm)
    d: float = 0.25  # senescence (1/d)
    beta: float = 0.0  # grazing loss (1/d), pyveg's addition
    alpha: float = 0.2  # infiltration rate of surface water (1/d)
    k2: float = 5.0  # half saturation of infiltration (g/m^2)
    w0: float = 0.2  # bare-soil infiltration (-)
    rw: float = 0.2  # soil water loss (1/d)
    dp: float = 0.1  # plant dispersal (m^2/d)
    dw: float = 0.1  # soil water diffusion (m^2/d)
    do: float = 100.0  # surface water diffusion (m^2/d)
    dx: float = 21.0  # cell size (m)

    def as_array(self) -> npt.NDArray[np.float64]:
        """The parameters in the kernel's order."""
        return np.array(list(asdict(self).values()), dtype=np.float64)

    def max_stable_dt(self) -> float:
        """The largest stable explicit-Euler time step, ``dx**2 / (4 * max(D))``."""
        return self.dx**2 / (4.0 * max(self.dp, self.dw, self.do))


PUBLISHED_PARAMETERS = RietkerkParameters()
PYVEG_PARAMETERS = RietkerkParameters(
    c=10.0, gmax=0.05, k1=3.0, d=0.1, beta=0.3, alpha=0.1, k2=5.0, w0=0.15, rw=0.1,
    dp=0.1, dw=0.1, do=100.0, dx=21.0,
)  # fmt: skip


@njit(cache=True, nogil=True)
def _evolve(p, w, o, rain, steps, dt, par):
    c, gmax, k1, d, beta, alpha, k2, w0, rw, dp, dw, do, dx = par
    inv_area = 1.0 / (dx * dx)
    ny, nx = p.shape
    p2 = np.empty_like(p)
    w2 = np.empty_like(w)
    o2 = np.empty_like(o)
    for _ in range(steps):
        for i in range(ny):
            # No-flux boundaries: a missing neighbour is the cell itself, whose difference is 0.
            im = max(i - 1, 0)
            ip = min(i + 1, ny - 1)
            for j in range(nx):
                jm = max(j - 1, 0)
                jp = min(j + 1, nx - 1)
                pij = p[i, j]
                wij = w[i, j]
                oij = o[i, j]
                lap_p = p[im, j] + p[ip, j] + p[i, jm] + p[i, jp] - 4.0 * pij
                lap_w = w[im, j] + w[ip, j] + w[i, jm] + w[i, jp] - 4.0 * wij
                lap_o = o[im, j] + o[ip, j] + o[i, jm] + o[i, jp] - 4.0 * oij
                infiltration = alpha * oij * (pij + k2 * w0) / (pij + k2)
                uptake = gmax * wij / (wij + k1)
                o2[i, j] = oij + dt * (rain[i, j] - infiltration + do * inv_area * lap_o)
                w2[i, j] = wij + dt * (
                    infiltration - uptake * pij - rw * wij + dw * inv_area * lap_w
                )
                p2[i, j] = pij + dt * ((c * uptake - (d + beta)) * pij + dp * inv_area * lap_p)
        p, p2 = p2, p
        w, w2 = w2, w
        o, o2 = o2, o
    return p, w, o


def rietkerk_evolve(
    biomass: npt.ArrayLike,
    soil_water: npt.ArrayLike,
    surface_water: npt.ArrayLike,
    *,
    rainfall: float | npt.ArrayLike,
    steps: int,
    dt: float = 1.0,
    parameters: RietkerkParameters = PYVEG_PARAMETERS,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Advance the model ``steps`` explicit-Euler steps of ``dt`` days, rainfall constant in time.

    Parameters
    ----------
    biomass, soil_water, surface_water : (M, N) array_like of float
        The state: P (g/m^2), W (mm), O (mm). Not modified.
    rainfall : float or (M, N) array_like of float
        R, mm/day: one value everywhere, or a field (rain that varies between cells).
    steps : int
        Number of time steps.
    dt : float, default 1
        Time step in days; must satisfy ``dt <= parameters.max_stable_dt()``.
    parameters : RietkerkParameters
        pyveg's set by default; ``PUBLISHED_PARAMETERS`` for Rietkerk et al. (2002).

    Returns
    -------
    biomass, soil_water, surface_water : (M, N) ndarray of float64

    Raises
    ------
    ValueError
        If the shapes differ (state, rainfall field), ``steps < 0``, rainfall is negative, or
        ``dt`` is unstable.

    Examples
    --------
    Uniform bare soil stays bare; the water settles towards R / rw in the soil.

    >>> import numpy as np
    >>> p, w, o = rietkerk_evolve(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)),
    ...                           rainfall=1.0, steps=1)
    >>> float(p.max()), float(o[0, 0])
    (0.0, 1.0)

    Rain that falls on one half only:

    >>> rain = np.zeros((4, 4)); rain[:, :2] = 2.0
    >>> p, w, o = rietkerk_evolve(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)),
    ...                           rainfall=rain, steps=1)
    >>> o[0].tolist()
    [2.0, 2.0, 0.0, 0.0]
    """
    arrays = [np.array(a, dtype=np.float64) for a in (biomass, soil_water, surface_water)]
    if arrays[0].ndim != 2 or any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError(
            "biomass, soil_water and surface_water must be 2-D arrays of one shape, got "
            f"{[a.shape for a in arrays]}"
        )
    rain = np.array(rainfall, dtype=np.float64)
    if rain.ndim == 0:
        rain = np.full(arrays[0].shape, float(rain))
    if rain.shape != arrays[0].shape:
        raise ValueError(
            f"rainfall must be a number or an array of the state's shape {arrays[0].shape}, "
            f"got shape {rain.shape}"
        )
    if steps < 0 or not (rain >= 0).all():
        shown = rainfall if np.ndim(rainfall) == 0 else f"a field with minimum {rain.min():g}"
        raise ValueError(f"steps and rainfall must be >= 0, got steps={steps}, rainfall={shown}")
    if not 0 < dt <= parameters.max_stable_dt():
        raise ValueError(
            f"dt={dt} is unstable for these parameters; "
            f"use 0 < dt <= {parameters.max_stable_dt():g}"
        )
    p, w, o = arrays
    return _evolve(p, w, o, rain, int(steps), float(dt), parameters.as_array())
