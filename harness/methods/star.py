"""star: Self-Taught Reasoner (Zelikman et al. 2022), as in the parity paper's Algorithm 1.

Each round samples `samples_per_prompt` completions for `prompts_per_round` training prompts from the
current model (temperature `temperature`), keeps those the filter accepts (`outcome`: the task's
grader; `process`: also a fully correct chain of thought, see harness.rewards), and fine-tunes the
current model on them with TRL's SFTTrainer (a fresh optimizer and schedule per round, `num_train_epochs`
passes). Sampling goes through the harness's metered sampler, so rollouts count against the budget;
the rounds stop early when a generation cap leaves no room or a training cap is reached.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Literal

from pydantic import Field
from transformers import PreTrainedModel
from trl import SFTTrainer

from harness.budget import BudgetExceeded, BudgetMeter
from harness.data_recipes import sft_dataset
from harness.methods.base import Method, MethodConfig, TrainContext, meter_trainer, sft_args
from harness.methods.grpo import require_task, track_max_new_tokens
from harness.rewards import score


class StarConfig(MethodConfig):
    rounds: int = Field(3, ge=1)
    """Sample-filter-train rounds."""
    prompts_per_round: int | None = Field(256, ge=1)
    """Training prompts sampled each round (drawn anew per round); None: all of them."""
    samples_per_prompt: int = Field(4, ge=1)
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature of the rollouts."""
    max_new_tokens: int | None = Field(None, ge=1)
    """Token limit of a rollout; None: the track's eval max_new_tokens."""
    filter: Literal["outcome", "process"] = "outcome"
    """Which samples are kept: a correct final answer, or also a fully correct chain of thought."""
    num_train_epochs: float = Field(1.0, gt=0)
    """SFT passes over each round's kept samples."""
    warmup_steps: int = Field(0, ge=0)


class StarMethod(Method):
    name = "star"
    config_class = StarConfig
    uses_sft_data = False
    loss_type = "nll"

    def train(self, ctx: TrainContext, config: StarConfig, meter: BudgetMeter) -> PreTrainedModel:
        require_task(ctx, self.name)
        if ctx.sampler is None:
            raise ValueError(f"{self.name} samples its training data and needs the harness's sampler (ctx.sampler)")
        rng = random.Random(f"{self.name}:{ctx.seed}")
        model = ctx.model
        examples = list(ctx.train_examples)
        for r in range(config.rounds):
            chosen = examples if config.prompts_per_round is None else rng.sample(examples, min(config.prompts_per_round, len(examples)))
            try:
                sampled = ctx.sampler.sample(
                    model, [ex.prompt for ex in chosen], k=config.samples_per_prompt, temperature=config.temperature,
                    max_new_tokens=config.max_new_tokens or track_max_new_tokens(ctx),
                )
            except BudgetExceeded:
                break  # no rollouts left under the generation caps
            kept = [
                (ex, c.text) for ex, row in zip(chosen, sampled) for c in row
                if score(config.filter, ctx.task, c.text, ex) > 0
            ]
            meter.log_history.append({
                "step": meter.ledger.optimizer_steps, f"{self.name}/round": r,
                f"{self.name}/rollouts": sum(len(row) for row in sampled), f"{self.name}/kept": len(kept),
            })
            if kept:
                round_ctx = replace(ctx, model=model, train_dataset=sft_dataset(kept), output_dir=ctx.output_dir / f"round{r}")
                trainer = self.round_trainer(round_ctx, config)
                meter_trainer(trainer, meter)
                trainer.train()
                model = trainer.model
            if meter.cap_reached() or len(sampled) < len(chosen):
                break  # a training cap, or the generation caps cut this round short
        return model

    def round_trainer(self, ctx: TrainContext, config: StarConfig) -> SFTTrainer:
        return SFTTrainer(
            model=ctx.model,
            args=sft_args(ctx, config, loss_type=self.loss_type),
            train_dataset=ctx.train_dataset,
            processing_class=ctx.tokenizer,
        )

