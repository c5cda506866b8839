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

from typing import ClassVar

from transformers import PreTrainedModel

from harness.budget import BudgetExceeded, BudgetMeter
from harness.data_recipes import sft_dataset
from harness.methods.base import Method, TrainContext, meter_trainer
from harness.methods.configs import StarConfig
from harness.methods.self_sampled import require_sampler, sample_graded
from harness.methods.sft import sft_trainer


class StarMethod(Method):
    loss_type: ClassVar[str] = "nll"
    """The TRL loss each round fine-tunes with (offline-dft: "dft")."""

    def train(self, ctx: TrainContext, config: StarConfig, meter: BudgetMeter) -> PreTrainedModel:
        require_sampler(ctx, self.name)
        rng = random.Random(f"{self.name}:{ctx.seed}")
        model = ctx.model
        examples = list(ctx.train_examples)
        for r in range(config.rounds):
            chosen = examples if config.prompts_per_round is None else rng.sample(examples, min(config.prompts_per_round, len(examples)))
            try:
                sampled = sample_graded(ctx, config, model, chosen)
            except BudgetExceeded:
                break  # no rollouts left under the generation caps
            kept = [(ex, text) for ex, row in zip(chosen, sampled) for text, good in row if good]
            meter.log_history.append({
                "step": meter.ledger.optimizer_steps, f"{self.name}/round": r,
                f"{self.name}/rollouts": sum(len(row) for row in sampled), f"{self.name}/kept": len(kept),
            })
            if kept:
                round_ctx = replace(ctx, model=model, train_dataset=sft_dataset(kept), output_dir=ctx.output_dir / f"round{r}")
                trainer = sft_trainer(round_ctx, config, loss_type=self.loss_type)
                meter_trainer(trainer, meter)
                trainer.train()
                model = trainer.model
            if meter.cap_reached() or len(sampled) < len(chosen):
                break  # a training cap, or the generation caps cut this round short
        return model

