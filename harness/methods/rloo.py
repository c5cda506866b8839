"""rloo: REINFORCE Leave-One-Out with TRL's RLOOTrainer.

Each completion's advantage is its reward minus the mean reward of the other completions of the same
prompt (TRL: sequence-level ratio, loss = mean over sequences); optional KL to the base model (beta,
reloaded from the saved base directory; TRL's default 0.05 is set to 0 here to save a reference
model on CPU). Prompts, rewards and metering as for grpo.
"""

from __future__ import annotations

from trl import RLOOConfig, RLOOTrainer

from harness.methods.grpo import GRPOMethod


class RLOOMethod(GRPOMethod):
    trainer_class = RLOOTrainer
    args_class = RLOOConfig
