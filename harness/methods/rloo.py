"""rloo: REINFORCE Leave-One-Out with TRL's RLOOTrainer.

Each completion's advantage is its reward minus the mean reward of the other completions of the same
prompt (TRL: sequence-level ratio, loss = mean over sequences); optional KL to the base model (beta,
reloaded from the saved base directory; TRL's default 0.05 is set to 0 here to save a reference
model on CPU). Prompts, rewards and metering as for grpo.
"""

from __future__ import annotations

from pydantic import Field
from trl import RLOOConfig, RLOOTrainer

from harness.methods.base import TrainContext
from harness.methods.grpo import GRPOMethod, RLConfig, rl_args


class RLOOMethodConfig(RLConfig):
    num_generations: int = Field(4, ge=2)
    beta: float = Field(0.0, ge=0)
    """KL coefficient against the base model."""
    epsilon: float = Field(0.2, gt=0)
    num_iterations: int = Field(1, ge=1)
    normalize_advantages: bool = False


class RLOOMethod(GRPOMethod):
    name = "rloo"
    config_class = RLOOMethodConfig
    trainer_class = RLOOTrainer

    def rl_config(self, ctx: TrainContext, config: RLOOMethodConfig) -> RLOOConfig:
        return RLOOConfig(
            **rl_args(ctx, config),
            beta=config.beta,
            epsilon=config.epsilon,
            num_iterations=config.num_iterations,
            normalize_advantages=config.normalize_advantages,
        )
