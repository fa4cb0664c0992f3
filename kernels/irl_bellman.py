"""Batched (soft) value iteration for tabular MDPs: one body, a CPU and a CUDA launcher.

The body iterates the Bellman operator of one MDP

    Q(s, a) = r̄(s, a) + γ Σ_{s'} τ(s, a, s') V(s'),
    V(s)    = max_a Q(s, a)                          (alpha == 0, hard)
    V(s)    = α log Σ_a exp(Q(s, a) / α)             (alpha > 0, soft / maximal causal entropy)

from the initial ``V`` it is given, until ``γ/(1-γ) · max_s |V_{k+1}(s) - V_k(s)| <= tol``.  It
returns ``V_{k+1}`` and ``Q_k = r̄ + γτV_k`` (so that ``V_{k+1}`` is exactly the (soft) maximum
of ``Q_k``); the stopping rule bounds the sup-norm errors of both by ``tol``.  The sweep count
is returned, or ``-1`` when ``max_iter`` sweeps did not reach ``tol``.  No randomness is used.

Layout: the transitions come **transposed and flattened**, ``tau_t[s', s·A + a] = τ(s, a, s')``,
and ``Q`` flat as ``q[s·A + a]``, so that ``Q += γ V(s') τ(·, ·, s')`` is a contiguous
multiply-add over all (s, a) for each s' (vectorisable, no floating-point reduction).

GPU memory traffic (one thread per MDP; ``tau_t``, ``rbar``, ``v``, ``q`` and the work array
stored with the MDP index fastest by :func:`simkit.launch.launch`, so the threads of a warp read
element ``tau_t[s', j]`` of 32 MDPs in one coalesced access).  Per sweep with ``S`` states and
``A`` actions: ``tau_t`` is read once (``8 S^2 A`` bytes), ``q`` is read and written once per four
successor states (``4 S^2 A`` bytes) plus once for the maxima (``8 S A``), ``rbar`` and ``v`` once
(``8 S (A + 2)``).  Before the layout change, the same element of neighbouring MDPs was
``8 S^2 A`` bytes apart (32 KB for 32 states and 4 actions): one 32-byte transaction per thread
instead of one per 32 threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda

from .targets import cpu_launcher, cuda_launcher, device


@device
def bellman_body(tau_t, rbar, n_actions, gamma, alpha, tol, max_iter, v, v_new, q):
    """Iterate the (soft) Bellman operator of one MDP in place.

    Parameters
    ----------
    tau_t : float64 array, shape (S, S·A)
        Transposed transitions: ``tau_t[s', s·A + a] = τ(s, a, s')``.
    rbar : float64 array, shape (S·A,)
        Expected immediate reward r̄(s, a) at ``s·A + a``.
    n_actions : int
        A.
    gamma : float
        Discount in [0, 1).
    alpha : float
        Entropy weight (temperature); 0 selects the hard maximum.
    tol : float
        Bound on the sup-norm error of the returned values.
    max_iter : int
        Largest number of Bellman sweeps.
    v : float64 array, shape (S,)
        Initial values on entry; the converged values V on exit.
    v_new : float64 array, shape (S,)
        Work space.
    q : float64 array, shape (S·A,)
        Output: Q_k at ``s·A + a``, whose (soft) maximum is the returned V.

    Returns
    -------
    int
        Sweeps used, or -1 if not converged.
    """
    n_states = tau_t.shape[0]
    n_pairs = tau_t.shape[1]
    scale = gamma / (1.0 - gamma)
    for it in range(max_iter):
        for j in range(n_pairs):
            q[j] = rbar[j]
        t = 0
        while t + 3 < n_states:  # four successor states per pass: fewer loads and stores of q
            w0 = gamma * v[t]
            w1 = gamma * v[t + 1]
            w2 = gamma * v[t + 2]
            w3 = gamma * v[t + 3]
            for j in range(n_pairs):
                q[j] += (tau_t[t, j] * w0 + tau_t[t + 1, j] * w1) + (tau_t[t + 2, j] * w2 + tau_t[t + 3, j] * w3)
            t += 4
        while t < n_states:
            weight = gamma * v[t]
            for j in range(n_pairs):
                q[j] += tau_t[t, j] * weight
            t += 1
        diff = 0.0
        for s in range(n_states):
            base = s * n_actions
            best = q[base]
            for a in range(1, n_actions):
                if q[base + a] > best:
                    best = q[base + a]
            if alpha > 0.0:
                total = 0.0
                for a in range(n_actions):
                    total += math.exp((q[base + a] - best) / alpha)
                best = best + alpha * math.log(total)
            v_new[s] = best
            d = abs(best - v[s])
            if d > diff:
                diff = d
        for s in range(n_states):
            v[s] = v_new[s]
        if diff * scale <= tol:
            return it + 1
    return -1


@cpu_launcher
def bellman_cpu(tau_t, rbar, n_actions, gamma, alpha, tol, max_iter, v, q, iters):
    """Run :func:`bellman_body` for every MDP of a batch, in parallel over MDPs.

    ``tau_t`` (B, S, S·A), ``rbar`` (B, S·A), ``v`` (B, S) initial values (overwritten with the
    result), ``q`` (B, S·A) output, ``iters`` (B,) int64 output (-1: not converged).
    """
    for b in numba.prange(tau_t.shape[0]):
        v_new = np.empty(tau_t.shape[1])
        iters[b] = bellman_body(tau_t[b], rbar[b], n_actions, gamma, alpha, tol, max_iter, v[b], v_new, q[b])


@cpu_launcher(parallel=False)
def bellman_cpu_serial(tau_t, rbar, n_actions, gamma, alpha, tol, max_iter, v, q, iters):
    """:func:`bellman_cpu` without threads, for a batch of one MDP (no thread-pool wake-up per call)."""
    v_new = np.empty(tau_t.shape[1])
    for b in range(tau_t.shape[0]):
        iters[b] = bellman_body(tau_t[b], rbar[b], n_actions, gamma, alpha, tol, max_iter, v[b], v_new, q[b])


@cuda_launcher
def bellman_cuda(tau_t, rbar, n_actions, gamma, alpha, tol, max_iter, v_new, v, q, iters):
    """CUDA kernel: one thread per MDP; ``v_new`` (B, S) is work space, other arrays as on the CPU."""
    b = cuda.grid(1)
    if b < tau_t.shape[0]:
        iters[b] = bellman_body(tau_t[b], rbar[b], n_actions, gamma, alpha, tol, max_iter, v[b], v_new[b], q[b])
