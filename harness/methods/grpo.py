"""grpo: Group Relative Policy Optimization with TRL's GRPOTrainer.

Prompts are the track's domain training prompts (the prompt only, conversational, rendered by the
model's chat template); rewards come from the task's own grader through `harness.rewards`
(`rewards: [outcome]` by default; `process` rewards a fully correct chain of thought, `format` the
answer shape). Generation happens inside TRL; the harness meters it through the reward function and
stops training before a generation batch could pass a cap (harness.budget.attach_meter).

`per_device_train_batch_size` counts completions: 64 with num_generations 8 is 8 prompts per step.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from trl import GRPOConfig, GRPOTrainer

from harness.methods.base import Method, MethodConfig, TrainContext, training_args
from harness.methods.self_sampled import require_task, track_max_new_tokens
from harness.rewards import RewardName, reward_funcs, rl_dataset


class RLConfig(MethodConfig):
    """What GRPO-family methods share: rollouts, rewards, and RL-sized defaults."""

    learning_rate: float = Field(2e-4, gt=0)
    per_device_train_batch_size: int = Field(64, ge=1)
    """Completions per micro-batch (per_device_train_batch_size / num_generations prompts)."""
    num_train_epochs: float = Field(1.0, gt=0)
    """Passes over the domain training prompts; the budget usually stops training first."""
    lr_scheduler_type: str = "constant"
    warmup_steps: int = Field(0, ge=0)
    num_generations: int = Field(8, ge=2)
    """Completions sampled per prompt (the group)."""
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature of the rollouts."""
    top_p: float = Field(1.0, gt=0, le=1)
    max_completion_length: int | None = Field(None, ge=1)
    """Token limit of a rollout; None: the track's eval max_new_tokens."""
    rewards: list[RewardName] = Field(default_factory=lambda: ["outcome"], min_length=1)
    """Reward functions from harness.rewards, summed (weighted by reward_weights)."""
    reward_weights: list[float] | None = None
    mask_truncated_completions: bool = False
    """Exclude completions cut by max_completion_length from the loss."""
    logging_steps: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _groups_fit(self):
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                f"per_device_train_batch_size x gradient_accumulation_steps ({batch}) must be a multiple of "
                f"num_generations ({self.num_generations}): each generation batch holds whole groups"
            )
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ValueError(f"reward_weights needs one weight per reward ({len(self.rewards)})")
        return self


class GRPOMethodConfig(RLConfig):
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    """Loss normalisation (TRL): grpo per sequence, dr_grpo by batch x max length, dapo/bnpo by active tokens."""
    beta: float = Field(0.0, ge=0)
    """KL coefficient against the base model (reloaded from its saved directory when > 0)."""
    epsilon: float = Field(0.2, gt=0)
    epsilon_high: float | None = Field(None, gt=0)
    """Upper clip of the ratio (DAPO's clip-higher); None: epsilon."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    num_iterations: int = Field(1, ge=1)
    """Optimisation passes over each generation batch."""


def rl_args(ctx: TrainContext, config: RLConfig) -> dict[str, Any]:
    """GRPOConfig / RLOOConfig fields: the shared training arguments plus generation settings."""
    return dict(
        **training_args(ctx, config),
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length or track_max_new_tokens(ctx),
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=0,
        reward_weights=config.reward_weights,
        mask_truncated_completions=config.mask_truncated_completions,
        logging_steps=config.logging_steps,
    )


class GRPOMethod(Method):
    """Also the base of the GRPO family: a variant sets `trainer_class` and overrides `rl_config`."""

    name = "grpo"
    config_class = GRPOMethodConfig
    uses_sft_data = False
    trainer_class: ClassVar[type] = GRPOTrainer

    def rl_config(self, ctx: TrainContext, config: GRPOMethodConfig) -> GRPOConfig:
        return GRPOConfig(
            **rl_args(ctx, config),
            loss_type=config.loss_type,
            beta=config.beta,
            epsilon=config.epsilon,
            epsilon_high=config.epsilon_high,
            scale_rewards=config.scale_rewards,
            num_iterations=config.num_iterations,
        )

    def build_trainer(self, ctx: TrainContext, config: RLConfig):
        require_task(ctx, self.name)
        return self.trainer_class(
            model=ctx.model,  # loaded from the base model's directory, so beta > 0 can reload the reference
            reward_funcs=reward_funcs(ctx.task, ctx.train_examples, config.rewards),
            args=self.rl_config(ctx, config),
            train_dataset=rl_dataset(ctx.train_examples),
            processing_class=ctx.tokenizer,
        )
