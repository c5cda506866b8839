"""dpo: Direct Preference Optimization (TRL's DPOTrainer) on (correct, wrong) pairs sampled from the base model.

For each training prompt the metered sampler draws `samples_per_prompt` completions from the base
model; a prompt with at least one completion the task's grader accepts and one it rejects yields
one pair (the first of each). The reference model is the base model, reloaded by TRL from its saved
directory. Gradient tokens are the completion tokens of chosen and rejected sequences.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from datasets import Dataset
from pydantic import Field
from transformers import PreTrainedModel
from trl import DPOConfig, DPOTrainer

from harness.budget import BudgetExceeded, BudgetMeter
from harness.methods.base import Method, MethodConfig, TrainContext, meter_trainer, training_args
from harness.methods.grpo import require_task, track_max_new_tokens
from harness.rewards import score
from harness.track_data import conversation


class DPOMethodConfig(MethodConfig):
    learning_rate: float = Field(1e-4, gt=0)
    beta: float = Field(0.1, gt=0)
    """Strength of the implicit KL to the reference (base) model."""
    loss_type: Literal["sigmoid", "ipo", "hinge"] = "sigmoid"
    prompts: int | None = Field(512, ge=1)
    """Training prompts to sample pairs for; None: all of them."""
    samples_per_prompt: int = Field(4, ge=2)
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature of the rollouts."""
    max_new_tokens: int | None = Field(None, ge=1)
    """Token limit of a rollout; None: the track's eval max_new_tokens."""
    filter: Literal["outcome", "process"] = "outcome"
    """What makes a completion 'chosen': a correct final answer, or also a fully correct chain of thought."""
    num_train_epochs: float = Field(1.0, gt=0)
    warmup_steps: int = Field(0, ge=0)


class DPOMethod(Method):
    name = "dpo"
    config_class = DPOMethodConfig
    uses_sft_data = False

    def preference_pairs(self, ctx: TrainContext, config: DPOMethodConfig) -> Dataset:
        examples = list(ctx.train_examples)[: config.prompts]
        sampled = ctx.sampler.sample(
            ctx.model, [ex.prompt for ex in examples], k=config.samples_per_prompt, temperature=config.temperature,
            max_new_tokens=config.max_new_tokens or track_max_new_tokens(ctx),
        )
        rows = []
        for ex, row in zip(examples, sampled):
            good = [c.text for c in row if score(config.filter, ctx.task, c.text, ex) > 0]
            bad = [c.text for c in row if score(config.filter, ctx.task, c.text, ex) == 0]
            if good and bad:
                chosen, rejected = conversation(replace(ex, completion=good[0])), conversation(replace(ex, completion=bad[0]))
                rows.append({"prompt": chosen["prompt"], "chosen": chosen["completion"], "rejected": rejected["completion"]})
        return Dataset.from_list(rows)

    def train(self, ctx: TrainContext, config: DPOMethodConfig, meter: BudgetMeter) -> PreTrainedModel:
        require_task(ctx, self.name)
        if ctx.sampler is None:
            raise ValueError("dpo samples its preference pairs and needs the harness's sampler (ctx.sampler)")
        try:
            pairs = self.preference_pairs(ctx, config)
        except BudgetExceeded:
            return ctx.model
        meter.log_history.append({"step": 0, "dpo/pairs": len(pairs)})
        if len(pairs) == 0:
            return ctx.model  # every group was all-correct or all-wrong: no preference to learn
        args = DPOConfig(
            **training_args(ctx, config),
            beta=config.beta,
            loss_type=[config.loss_type],
            max_length=ctx.max_length,
            logging_steps=10,
        )
        trainer = DPOTrainer(
            model=ctx.model,  # loaded from the base directory: TRL reloads it from there as the reference
            ref_model=None,
            args=args,
            train_dataset=pairs,
            processing_class=ctx.tokenizer,
        )
        meter_trainer(trainer, meter)
        trainer.train()
        return trainer.model
