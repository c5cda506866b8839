"""grpo: Group Relative Policy Optimization with TRL's GRPOTrainer.

Prompts are the track's domain training prompts (the prompt only, conversational, rendered by the
model's chat template); rewards come from the task's own grader through `harness.rewards`
(`rewards: [outcome]` by default; `process` rewards a fully correct chain of thought, `format` the
answer shape, `step` each chain step on its own tokens: then the trainer is
harness.methods.step_advantages.StepAdvantageGRPOTrainer, TRL's GRPOTrainer with token-level advantages).
Generation happens inside TRL (transformers' generate, or TRL's colocated vLLM engine when the track's
eval.backend is vllm); the harness meters it through the reward function either way and stops training
before a generation batch could pass a cap (harness.budget.attach_meter).

`per_device_train_batch_size` counts completions: 64 with num_generations 8 is 8 prompts per step.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trl import GRPOConfig, GRPOTrainer

from harness.methods.base import Method, TrainContext, training_args, uses_vllm
from harness.methods.configs import RLConfig
from harness.methods.self_sampled import require_task, track_max_new_tokens
from harness.rewards import GRANULARITY, reward_funcs, rl_dataset


VLLM_COLOCATE = dict(use_vllm=True, vllm_mode="colocate")
"""GRPOConfig / RLOOConfig fields on a track whose backend is vLLM: TRL generates the rollouts with a vLLM engine in
the training process. Metering is unchanged: TRL hands every rollout's token ids to the reward function, which the
meter wraps whatever generated them (harness.budget.trl_adapters)."""


def rl_args(ctx: TrainContext, config: RLConfig) -> dict[str, Any]:
    """GRPOConfig / RLOOConfig fields: the shared training arguments plus generation settings (through TRL's colocated
    vLLM when the track's eval.backend is vllm)."""
    return dict(
        **(VLLM_COLOCATE if uses_vllm(ctx) else {}),
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
    """Also the base of the GRPO family: a variant names TRL's trainer and its config class, or fixes some of the
    config's values (`fixed`). The fields a method's config class adds to RLConfig are TRL config fields of the
    same name and reach it as they are (declared once, in harness.methods.configs)."""

    trainer_class: ClassVar[type] = GRPOTrainer
    args_class: ClassVar[type] = GRPOConfig
    fixed: ClassVar[dict[str, Any]] = {}
    """TRL config values the method fixes rather than exposes (REINFORCE's)."""

    def rl_config(self, ctx: TrainContext, config: RLConfig):
        own = {k: getattr(config, k) for k in type(config).model_fields if k not in RLConfig.model_fields}
        return self.args_class(**rl_args(ctx, config), **own, **self.fixed)

    def build_trainer(self, ctx: TrainContext, config: RLConfig):
        require_task(ctx, self.name)
        trainer_class = self.trainer_class
        if any(GRANULARITY[name] == "step" for name in config.rewards):
            from harness.methods.step_advantages import StepAdvantageGRPOTrainer

            if not issubclass(StepAdvantageGRPOTrainer, trainer_class):
                raise ValueError(f"{self.name} takes sequence rewards only; step rewards need grpo or reinforce")
            trainer_class = StepAdvantageGRPOTrainer
        trainer = trainer_class(
            model=ctx.model,  # loaded from the base model's directory, so beta > 0 can reload the reference
            reward_funcs=reward_funcs(ctx.task, ctx.train_examples, config.rewards),
            args=self.rl_config(ctx, config),
            train_dataset=rl_dataset(ctx.train_examples),
            processing_class=ctx.tokenizer,
        )
        trainer.credit = config.step_credit
        return trainer
