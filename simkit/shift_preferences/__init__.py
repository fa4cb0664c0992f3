"""Misspecification beyond the four families: covariate shift, preference learning, calibration
and continual learning.

Each study's simulator is array code over replications (``xp`` = NumPy or CuPy) with its theory
in a companion module:

================================  ==========================  ==================================
study                             simulator                   theory
================================  ==========================  ==================================
``covshift-mle-mwle``             :mod:`.covshift`            :mod:`.covshift_theory`
``preference-annotators``         :mod:`.annotators`          :mod:`.annotators_theory`
``preference-doubly-robust``      :mod:`.doubly_robust`       :mod:`.doubly_robust_theory`
``calibration-overlap``           :mod:`.calibration`         :mod:`.calibration_theory`
``seqbayes-forgetting``           :mod:`.seqbayes`            :mod:`.seqbayes_theory`
================================  ==========================  ==================================

The data-generating processes and derivations are this project's instantiations of the papers'
claims (only the abstracts were available); the study pages say so.
"""

from __future__ import annotations

from . import annotators_theory, calibration_theory, covshift_theory, doubly_robust_theory, seqbayes_theory
from .annotators import bt_objective, draw_win_counts, fit_bt, fit_bt_batched, mle_exists, simulate_annotators
from .calibration import (
    binned_ece,
    draw_datasets,
    fit_temperature,
    mixup_probabilities,
    reliability_sums,
    simulate_calibration,
)
from .covshift import (
    ESTIMATORS,
    density_ratio_weights,
    draw_source,
    features,
    simulate_covshift,
    target_excess_risk,
    weighted_least_squares,
)
from .doubly_robust import draw_outcome_counts, estimates_from_counts, per_triple_estimates, simulate_doubly_robust
from .seqbayes import MODELS, STAGES, conjugate_update, draw_task_means, simulate_seqbayes, stream_normals

__all__ = [
    "covshift_theory",
    "annotators_theory",
    "doubly_robust_theory",
    "calibration_theory",
    "seqbayes_theory",
    "simulate_annotators",
    "draw_win_counts",
    "fit_bt",
    "fit_bt_batched",
    "mle_exists",
    "bt_objective",
    "simulate_doubly_robust",
    "draw_outcome_counts",
    "estimates_from_counts",
    "per_triple_estimates",
    "simulate_calibration",
    "draw_datasets",
    "fit_temperature",
    "mixup_probabilities",
    "binned_ece",
    "reliability_sums",
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
