"""starc-regret: how well reward distances track normalised regret (the STARC paper's interpolation)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simkit import checks as ck
from simkit import plotting
from simkit.irl.distances import _regret, _starc, epic_distance, l2_distance
from simkit.irl.mdp import random_transitions
from simkit.rng import Stream
from simkit.study import Param, Study

from ._common import z_at_least

TEACHING = """\
What is compared: four distances between a true reward R₁ and an estimate R — STARC with the VAL
and the minimal canonicalisation, EPIC and plain L2 of the normalised rewards — against what
matters, the normalised regret of optimising R when R₁ is the truth. Random MDPs (32 states,
4 actions, γ = 0.95); R₁, R₂ ~ N(0, 1); estimates interpolate from R₁ to R₂ in 16 steps, each
disguised by a random potential shaping γΦ(s') − Φ(s) and a random S'-redistribution δ
(Σ_{s'} τ δ = 0), which change neither the policy ordering nor the regret.

What theory predicts (Skalse et al., STARC, ICLR 2024): STARC metrics are zero exactly on rewards
with the same policy ordering and bound regret from above and below, so they correlate strongly
with regret; EPIC ignores shaping but not S'-redistribution, and L2 ignores neither, so the
disguises add noise to them that regret does not see.

What to look at: the table of Pearson correlations with regret (pooled over MDPs and steps, and
the mean per-MDP correlation) and the scatter plots: the STARC clouds are the tightest.
"""

DISTANCES = ("starc_val", "starc_minimal", "epic", "l2")
LABELS = {"starc_val": "STARC-VAL", "starc_minimal": "STARC-minimal", "epic": "EPIC", "l2": "L2"}


def _one(state, params):
    """One MDP: draw τ, R₁, R₂, then the disguises Φ (steps, S) and δ (steps, S, A, S), in that order.

    Returns τ (S, A, S), R₁ (S, A, S), the disguised estimates R (steps, S, A, S) and the steps t.
    """
    n, m, steps, gamma = params["n_states"], params["n_actions"], params["steps"], params["gamma"]
    stream = Stream(np.array(state, dtype=np.uint64))
    tau = random_transitions(stream, n, m, kappa=params["kappa"])
    r1 = stream.normal((n, m, n))
    r2 = stream.normal((n, m, n))
    phi = params["shaping_scale"] * stream.normal((steps, n))
    delta = params["redistribution_scale"] * stream.normal((steps, n, m, n))
    delta -= (np.sum(tau * delta, axis=-1) / np.sum(tau * tau, axis=-1))[..., None] * tau
    t = np.arange(1, steps + 1) / steps
    r = (1 - t)[:, None, None, None] * r1 + t[:, None, None, None] * r2
    r = r + gamma * phi[:, None, None, :] - phi[:, :, None, None] + delta
    return tau, r1, r, t


def simulate(params, states, backend):
    """Distances and regret for each replication's MDP and each interpolation step.

    The value iterations of every (MDP, step) of the cell run as one batch; each converges on
    its own, so replication r depends only on its stream.
    """
    gamma = params["gamma"]
    drawn = [_one(state, params) for state in states]
    t = drawn[0][3]
    shape = drawn[0][2].shape
    taus = np.concatenate([np.broadcast_to(d[0], shape) for d in drawn])
    truths = np.concatenate([np.broadcast_to(d[1], shape) for d in drawn])
    hats = np.concatenate([d[2] for d in drawn])
    values = {
        "starc_val": _starc(truths, hats, taus, gamma, "val"),
        "starc_minimal": _starc(truths, hats, taus, gamma, "minimal"),
        "epic": epic_distance(truths, hats, taus, gamma),
        "l2": l2_distance(truths, hats),
    }
    mu = np.full(shape[1], 1.0 / shape[1])
    values["regret"] = _regret(truths, hats, taus, gamma, mu, backend=backend)
    reps = len(states)
    data = {
        k: (
            ("step", "rep"),
            values[k].reshape(reps, len(t)).T,
            {"long_name": f"{LABELS[k]} distance to R₁", "units": "1"},
        )
        for k in DISTANCES
    }
    regret = values["regret"].reshape(reps, len(t))
    data["regret"] = (("step", "rep"), regret.T, {"long_name": "normalised regret of R under R₁", "units": "1"})
    corr = np.array([[np.corrcoef(data[k][1][:, i], regret[i])[0, 1] for i in range(reps)] for k in DISTANCES])
    data["correlation"] = (
        ("distance", "rep"),
        corr,
        {"long_name": "per-MDP Pearson correlation of the distance with regret", "units": "1"},
    )
    return xr.Dataset(data, coords={"step": t, "distance": list(DISTANCES)})


def pooled_correlations(ds):
    """Pearson correlation of each distance with regret over all (MDP, step) pairs, as a dict."""
    y = ds["regret"].values.ravel()
    return {k: float(np.corrcoef(ds[k].values.ravel(), y)[0, 1]) for k in DISTANCES}


def theory(ds):
    """No closed-form prediction is added: the claims are about correlations (see :func:`checks`)."""
    return None


def checks(ds):
    """Strong STARC–regret correlation, and STARC-VAL tracking regret better than L2."""
    pooled = pooled_correlations(ds)
    table = ", ".join(f"{LABELS[k]} {v:.3f}" for k, v in pooled.items())
    out = [
        ck.condition(
            "STARC-VAL correlates strongly with regret (pooled Pearson ≥ 0.8)",
            pooled["starc_val"] >= 0.8,
            pooled["starc_val"],
            0.8,
            table,
            claim="over all MDPs and interpolated rewards, STARC-VAL distance and normalised regret have pooled Pearson correlation ≥ 0.8",
            statistic="pooled Pearson correlation",
            direction=">=",
        ),
        ck.condition(
            "STARC-minimal correlates strongly with regret (pooled Pearson ≥ 0.8)",
            pooled["starc_minimal"] >= 0.8,
            pooled["starc_minimal"],
            0.8,
            table,
            claim="over all MDPs and interpolated rewards, STARC-minimal distance and normalised regret have pooled Pearson correlation ≥ 0.8",
            statistic="pooled Pearson correlation",
            direction=">=",
        ),
    ]
    corr = ds["correlation"]
    for other in ("l2",):
        diff = corr.sel(distance="starc_val") - corr.sel(distance=other)
        mean = float(diff.mean())
        se = float(diff.std(ddof=1) / np.sqrt(diff.size))
        z = mean / se if se > 0 else np.inf
        out.append(
            z_at_least(
                f"STARC-VAL tracks regret better than {LABELS[other]} (per-MDP correlation higher, z ≥ 3)",
                z,
                diff.size,
                detail=f"mean per-MDP difference {mean:.4f} ± {se:.2g}",
                claim=f"STARC-VAL's per-MDP correlation with regret is higher than {LABELS[other]}'s on average (z ≥ 3)",
                statistic="z of the mean per-MDP difference in correlation",
            )
        )
    return out


def plot(ds):
    """Scatter of each distance against normalised regret, with pooled and per-MDP correlations."""
    pooled = pooled_correlations(ds)
    fig, axes = plotting.figure(1, 4, width=2.6, height=2.6, title="Reward distance vs normalised regret")
    y = ds["regret"].values.ravel()
    for j, k in enumerate(DISTANCES):
        ax = axes[0, j]
        pts = ax.scatter(ds[k].values.ravel(), y, s=3, alpha=0.35, color=plotting.COLORS[j], linewidths=0)
        pts.set_gid(f"sim:{k}")
        ax.set_xlabel(f"{LABELS[k]} distance")
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        mean_corr = float(ds["correlation"].sel(distance=k).mean())
        ax.set_title(f"{LABELS[k]}: ρ = {pooled[k]:.3f}\n(per MDP {mean_corr:.3f})", loc="left")
    axes[0, 0].set_ylabel("normalised regret")
    return fig


PARAMS = (
    Param("n_states", int, "states per random MDP", low=2, high=128),
    Param("n_actions", int, "actions per state", low=2, high=16),
    Param("gamma", float, "discount", low=0.0, high=1.0, high_inclusive=False, units="1"),
    Param("kappa", float, "Dirichlet concentration of τ(s, a, ·)", low=0.0, low_inclusive=False, units="1"),
    Param("steps", int, "interpolation steps from R₁ to R₂", low=3, high=256),
    Param("shaping_scale", float, "standard deviation of the disguising potential Φ", low=0.0, units="reward"),
    Param(
        "redistribution_scale",
        float,
        "standard deviation of the disguising δ before projection",
        low=0.0,
        units="reward",
    ),
)

_SETTINGS = {
    "n_states": 32,
    "n_actions": 4,
    "gamma": 0.95,
    "kappa": 0.3,
    "steps": 16,
    "shaping_scale": 3.0,
    "redistribution_scale": 3.0,
}

STUDY = Study(
    name="starc-regret",
    title="STARC, EPIC and L2 distances against normalised regret (interpolated rewards)",
    paper="Skalse et al., STARC: A General Framework for Quantifying Differences Between Reward Functions, ICLR 2024, arXiv:2309.15257",
    family="irl",
    teaching=TEACHING,
    params=PARAMS,
    grid={},
    settings=dict(_SETTINGS),
    reps=128,
    quick_grid={},
    quick_settings=dict(_SETTINGS),
    quick_reps=24,
    # steps × S × A × S disguised rewards and their broadcast truths, transitions and canonicalisations
    memory=lambda p: 8.0 * 16.0 * p["steps"] * p["n_states"] ** 2 * p["n_actions"],
    simulate=simulate,
    theory=theory,
    checks=checks,
    plot=plot,
    rep_dim="mdp",
)
