"""reinforce: vanilla REINFORCE (Williams 1992) with the group-mean baseline, as a fixed GRPO configuration.

With num_iterations 1 (one gradient step per generation batch, so the PPO ratio is exactly 1 and
clipping never acts: its value is 1 and its gradient is grad log p), beta 0 (no KL), scale_rewards
"none" (advantage = r_i - mean of the rewards of the same prompt's group, no division by the std)
and loss_type "dr_grpo" (token losses summed, divided by the constant B x L), TRL's GRPO loss is

    loss = -1/(B * L) * sum_i (r_i - mean_{j in group(i)} r_j) * sum_t log p(y_i,t | x_i, y_i,<t)

(divided by gradient_accumulation_steps when accumulating), where B is the micro-batch's number of
completions and L is max_completion_length. Its gradient is exactly the REINFORCE estimator with the
group-mean baseline, scaled by the constant 1/L (a learning-rate factor; no per-sequence length
normalisation, unlike loss_type "grpo"). The baseline includes the sample itself, so the expected
gradient is (1 - 1/G) times the policy gradient; RLOO's leave-one-out baseline removes that factor.
Entropy bonuses and high-entropy token masks stay at TRL's defaults (off).
"""

from __future__ import annotations

from harness.methods.grpo import GRPOMethod


class ReinforceMethod(GRPOMethod):
    fixed = {"loss_type": "dr_grpo", "beta": 0.0, "scale_rewards": "none", "num_iterations": 1,
             "top_entropy_quantile": 1.0}
