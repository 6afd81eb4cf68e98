"""The Rietkerk model kernel against an independent plain-numpy finite-volume implementation."""

import numpy as np
import pytest

from vegdask.kernels import (
    PUBLISHED_PARAMETERS,
    PYVEG_PARAMETERS,
    RietkerkParameters,
    rietkerk_evolve,
)


def numpy_reference(p, w, o, rainfall, steps, dt, par):
    """pyveg's scheme: fluxes across cell faces, zero at the boundary (no-flux), explicit Euler."""

    def diffusion(u, coefficient):
        fx = np.zeros((u.shape[0], u.shape[1] + 1))
        fy = np.zeros((u.shape[0] + 1, u.shape[1]))
        fx[:, 1:-1] = -coefficient * (u[:, 1:] - u[:, :-1]) * par.dx / par.dx
        fy[1:-1, :] = -coefficient * (u[1:, :] - u[:-1, :]) * par.dx / par.dx
        net = (fx[:, :-1] - fx[:, 1:]) + (fy[:-1, :] - fy[1:, :])
        return net / (par.dx * par.dx)

    for _ in range(steps):
        infiltration = par.alpha * o * (p + par.k2 * par.w0) / (p + par.k2)
        uptake = par.gmax * w / (w + par.k1)
        do = rainfall - infiltration + diffusion(o, par.do)
        dw = infiltration - uptake * p - par.rw * w + diffusion(w, par.dw)
        dp = (par.c * uptake - (par.d + par.beta)) * p + diffusion(p, par.dp)
        o, w, p = o + dt * do, w + dt * dw, p + dt * dp
    return p, w, o


def starting_state(rainfall, par, size=50, seed=1):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random((size, size)) > 0.9, 90.0, 0.0)
    w = np.full((size, size), rainfall / par.rw)
    o = np.full((size, size), rainfall / (par.alpha * par.w0))
    return p, w, o


@pytest.mark.parametrize("par", [PYVEG_PARAMETERS, PUBLISHED_PARAMETERS])
def test_100_steps_at_rainfall_1_match_the_reference(par):
    state = starting_state(1.0, par)
    ours = rietkerk_evolve(*state, rainfall=1.0, steps=100, parameters=par)
    reference = numpy_reference(*state, 1.0, 100, 1.0, par)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert ours[0].max() > 0  # the pattern is alive, not trivially zero


def test_a_rainfall_field_matches_the_reference():
    """Rain that varies between cells (a smooth random field) against the plain-numpy scheme."""
    par = PUBLISHED_PARAMETERS
    state = starting_state(1.0, par, size=30)
    rng = np.random.default_rng(3)
    rain = 1.0 + 0.3 * np.sin(np.arange(30) / 4.0)[:, None] * rng.random((1, 30))
    ours = rietkerk_evolve(*state, rainfall=rain, steps=60, parameters=par)
    reference = numpy_reference(*state, rain, 60, 1.0, par)
    for a, b in zip(ours, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    uniform = rietkerk_evolve(*state, rainfall=1.0, steps=60, parameters=par)
    assert np.abs(ours[2] - uniform[2]).max() > 0.01  # the field changed the surface water


def test_no_flux_boundaries_conserve_diffusing_mass():
    par = RietkerkParameters(c=0, gmax=0, alpha=0, rw=0, d=0, dx=21.0)
    p = np.zeros((20, 20))
    p[:3, :3] = 50.0
    out, _, _ = rietkerk_evolve(p, np.zeros_like(p), np.zeros_like(p), rainfall=0, steps=200,
                                parameters=par)  # fmt: skip
    assert out.sum() == pytest.approx(p.sum(), rel=1e-12)
    assert out[-1, -1] > 0


def test_inputs_are_not_modified_and_bad_input_is_rejected():
    state = starting_state(1.0, PYVEG_PARAMETERS, size=10)
    copies = [a.copy() for a in state]
    rietkerk_evolve(*state, rainfall=1.0, steps=3)
    for a, b in zip(state, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unstable"):
        rietkerk_evolve(*state, rainfall=1.0, steps=1, dt=5.0)
    with pytest.raises(ValueError, match="one shape"):
        rietkerk_evolve(state[0], state[1][:5], state[2], rainfall=1.0, steps=1)
    with pytest.raises(ValueError, match=r"state's shape \(10, 10\), got shape \(10, 5\)"):
        rietkerk_evolve(*state, rainfall=np.ones((10, 5)), steps=1)
    with pytest.raises(ValueError, match="minimum -1"):
        rietkerk_evolve(*state, rainfall=np.full((10, 10), -1.0), steps=1)
