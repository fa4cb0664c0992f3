"""Misspecification beyond the four families: covariate shift, preference learning, calibration
and continual learning.

Each study's simulator is array code over replications (``xp`` = NumPy or CuPy) with its theory
in a companion module:

================================  ==========================  ==================================
study                             simulator                   theory
================================  ==========================  ==================================
``covshift-mle-mwle``             :mod:`.covshift`            :mod:`.covshift_theory`
``seqbayes-forgetting``           :mod:`.seqbayes`            :mod:`.seqbayes_theory`
================================  ==========================  ==================================

The data-generating processes and derivations are this project's instantiations of the papers'
claims (only the abstracts were available); the study pages say so.
"""

from __future__ import annotations

from . import covshift_theory, seqbayes_theory
from .covshift import (
    ESTIMATORS,
    density_ratio_weights,
    draw_source,
    features,
    simulate_covshift,
    target_excess_risk,
    weighted_least_squares,
)
from .seqbayes import MODELS, STAGES, conjugate_update, draw_task_means, simulate_seqbayes, stream_normals

__all__ = [
    "covshift_theory",
    "seqbayes_theory",
    "ESTIMATORS",
    "simulate_covshift",
    "draw_source",
    "features",
    "density_ratio_weights",
    "weighted_least_squares",
    "target_excess_risk",
    "MODELS",
    "STAGES",
    "simulate_seqbayes",
    "draw_task_means",
    "conjugate_update",
    "stream_normals",
]
