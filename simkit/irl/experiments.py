"""One replication of the misspecification experiments: one random MDP, every IRL method, every metric.

Used by the studies ``irl-discount`` and ``irl-dynamics``.  The true expert acts in (τ, γ); the
IRL method assumes (τ', γ') and the true temperature.  Methods:

``mce``         closed-form MCE inverse α log π of an MCE expert (α = ``alpha``)
``boltzmann``   closed-form hard-Q Boltzmann inverse of a Boltzmann expert (β = ``beta``)
``worst_case``  the feasible reward (around the MCE inverse) farthest from the truth in STARC-VAL,
                found by L-BFGS-B (:func:`simkit.irl.feasible.worst_case_starc`)
``mce_irl``     gradient MCE-IRL with a state-only reward fitted to the MCE expert
                (:func:`simkit.irl.mce_irl.mce_irl`)

Metrics, all relative to the true (τ, γ): STARC-VAL distance, EPIC distance and normalised regret.
"""

from __future__ import annotations

import numpy as np

from .distances import _regret, _starc, epic_distance
from .feasible import worst_case_starc
from .inverse import boltzmann_inverse, mce_inverse
from .mce_irl import mce_irl
from .mdp import MDP
from .models import MCE, Boltzmann
from .theory import boltzmann_starc_theory

__all__ = ["METHODS", "METRICS", "misspecified_irl", "metrics_dataset_vars"]

METHODS = ("mce", "boltzmann", "worst_case", "mce_irl")
METRICS = ("starc", "epic", "regret")

ATTRS = {
    "starc": {"long_name": "STARC-VAL distance to the true reward", "units": "1"},
    "epic": {"long_name": "EPIC distance to the true reward", "units": "1"},
    "regret": {"long_name": "normalised regret of the inferred reward", "units": "1"},
    "starc_sup": {"long_name": "supremum of STARC-VAL over the feasible set (closed form)", "units": "1"},
    "boltzmann_theory": {
        "long_name": "STARC-VAL of the Boltzmann closed form predicted by its error term",
        "units": "1",
    },
    "mce_irl_gap": {"long_name": "MCE-IRL relative visitation mismatch at the fit", "units": "1"},
}


def misspecified_irl(mdp: MDP, gamma, gamma_assumed, transitions_assumed, *, alpha, beta, rng, restarts, backend):
    """Run every method of :data:`METHODS` on one MDP under the assumed (τ', γ').

    Parameters
    ----------
    mdp : MDP
        The true MDP (τ, R, μ₀).
    gamma, gamma_assumed : float
        True and assumed discounts.
    transitions_assumed : numpy.ndarray, shape (S, A, S)
        Assumed τ'.
    alpha, beta : float
        The experts' (and the assumed) entropy weight and inverse temperature.
    rng : numpy.random.Generator
        Starting points of the worst-case search.
    restarts : int
        Worst-case optimiser starts.
    backend : str
        Backend of the value iterations.

    Returns
    -------
    dict
        ``starc``, ``epic``, ``regret``: arrays of shape (len(METHODS),); ``starc_sup`` (the
        worst case's closed-form supremum), ``boltzmann_theory`` (:func:`~simkit.irl.theory.boltzmann_starc_theory`)
        and ``mce_irl_gap``: floats.
    """
    tau, r = mdp.transitions, mdp.reward
    pi_mce = MCE(alpha).policy(tau, r, gamma, backend=backend)
    pi_boltz = Boltzmann(beta).policy(tau, r, gamma, backend=backend)
    r_mce = mce_inverse(pi_mce, transitions_assumed, alpha)
    r_boltz = boltzmann_inverse(pi_boltz, transitions_assumed, gamma_assumed, beta)
    worst = worst_case_starc(r, r_mce, tau, gamma, transitions_assumed, gamma_assumed, rng=rng, restarts=restarts)
    fit = mce_irl(pi_mce, tau, transitions_assumed, gamma_assumed, alpha, mdp.initial, backend=backend)
    hats = np.stack([r_mce, r_boltz, worst.reward, fit.reward])
    truth = np.broadcast_to(r, hats.shape)
    taus = np.broadcast_to(tau, hats.shape)
    return {
        "starc": _starc(truth, hats, taus, gamma),
        "epic": epic_distance(truth, hats, taus, gamma),
        "regret": _regret(truth, hats, taus, gamma, mdp.initial, backend=backend),
        "starc_sup": worst.supremum,
        "boltzmann_theory": boltzmann_starc_theory(
            tau, r, gamma, beta, transitions_assumed, gamma_assumed, backend=backend
        ),
        "mce_irl_gap": fit.visitation_gap,
    }


def metrics_dataset_vars(results):
    """xarray variables (dims ``(irl_method, rep)`` / ``(rep,)``) from a list of :func:`misspecified_irl` results."""
    out = {}
    for name in METRICS:
        out[name] = (("irl_method", "rep"), np.stack([res[name] for res in results], axis=1), ATTRS[name])
    for name in ("starc_sup", "boltzmann_theory", "mce_irl_gap"):
        out[name] = (("rep",), np.array([res[name] for res in results]), ATTRS[name])
    return out
