"""IRL under a misspecified behavioural model.

Papers: Skalse & Abate, "Misspecification in Inverse Reinforcement Learning" (AAAI 2023) and
"Quantifying the Sensitivity of Inverse Reinforcement Learning to Misspecification" (ICLR 2024);
Skalse et al., "STARC: A General Framework for Quantifying Differences Between Reward Functions"
(ICLR 2024); Gleave et al., "Quantifying Differences in Reward Functions" (EPIC, ICLR 2021).

Random tabular MDPs (:mod:`.mdp`), batched solvers (:mod:`.solvers`; kernels in
``simkit.kernels.irl_bellman``), behavioural models (:mod:`.models`), closed-form inverses
(:mod:`.inverse`), reward distances and regret (:mod:`.distances`), the worst case over the
feasible set (:mod:`.feasible`), gradient MCE-IRL (:mod:`.mce_irl`), closed-form predictions
(:mod:`.theory`), one replication of the misspecification experiments (:mod:`.experiments`) and
the pieces the studies share (:mod:`.study_support`).  Per-MDP NumPy reference solvers (the test
oracle and benchmark baseline) are in :mod:`.reference`; the benchmark in :mod:`.bench`.
"""

from .distances import (
    canonicalise,
    epic_distance,
    l2_distance,
    minimal_canonical,
    normalised_regret,
    starc_distance,
    val_canonical,
)
from .inverse import boltzmann_inverse, mce_inverse, optimality_inverse
from .mce_irl import mce_irl
from .mdp import MDP, mix_transitions, random_mdp, random_mdps, random_transitions, state_action_reward, state_reward
from .models import boltzmann, mce, optimal
from .solvers import occupancy, policy_evaluation, policy_value, soft_value_iteration, value_iteration

__all__ = [
    "MDP",
    "random_mdp",
    "random_mdps",
    "random_transitions",
    "mix_transitions",
    "state_reward",
    "state_action_reward",
    "value_iteration",
    "soft_value_iteration",
    "policy_evaluation",
    "policy_value",
    "occupancy",
    "optimal",
    "boltzmann",
    "mce",
    "mce_inverse",
    "boltzmann_inverse",
    "optimality_inverse",
    "starc_distance",
    "epic_distance",
    "l2_distance",
    "normalised_regret",
    "canonicalise",
    "val_canonical",
    "minimal_canonical",
    "mce_irl",
]
