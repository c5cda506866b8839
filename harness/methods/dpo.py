"""dpo: Direct Preference Optimization (TRL's DPOTrainer) on (correct, wrong) pairs sampled from the base model.

For each training prompt the metered sampler draws `samples_per_prompt` completions from the base
model; a prompt with at least one completion the task's grader accepts and one it rejects yields
one pair (the first of each). The reference model is the base model, reloaded by TRL from its saved
directory. Gradient tokens are the completion tokens of chosen and rejected sequences.
"""

from __future__ import annotations

from dataclasses import replace
from datasets import Dataset
from transformers import PreTrainedModel
from trl import DPOConfig, DPOTrainer

from harness.budget import BudgetExceeded, BudgetMeter
from harness.methods.base import Method, TrainContext, meter_trainer, training_args
from harness.methods.configs import DPOMethodConfig
from harness.methods.self_sampled import require_sampler, sample_graded
from harness.track_data import conversation


class DPOMethod(Method):
    def preference_pairs(self, ctx: TrainContext, config: DPOMethodConfig) -> Dataset:
        examples = list(ctx.train_examples)[: config.prompts]
        rows = []
        for ex, row in zip(examples, sample_graded(ctx, config, ctx.model, examples)):
            good = [text for text, accepted in row if accepted]
            bad = [text for text, accepted in row if not accepted]
            if good and bad:
                chosen, rejected = conversation(replace(ex, completion=good[0])), conversation(replace(ex, completion=bad[0]))
                rows.append({"prompt": chosen["prompt"], "chosen": chosen["completion"], "rejected": rejected["completion"]})
        return Dataset.from_list(rows)

    def train(self, ctx: TrainContext, config: DPOMethodConfig, meter: BudgetMeter) -> PreTrainedModel:
        require_sampler(ctx, self.name)
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
