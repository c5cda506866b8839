"""sft-no-tf: supervised fine-tuning without teacher forcing (paper 001, Sec. 3.2 and App. H.2).

Teacher-forced SFT (`sft`) predicts each target token from the gold tokens before it. Here the model first
writes its own completion (greedy, as paper 001's Eq. 10 takes the sign of its score), and each target token is
then trained toward its gold value -- computed from the input, as the dataset holds it -- with the model's OWN
previous tokens as context: the label at completion position j is predicted from the prompt plus the model's
first j generated tokens. Positions after the model stopped have no own context and are not trained.

One SFTTrainer subclass: its collator rebuilds each batch (inputs from the model's generation, labels from the
dataset) before the harness's meter wraps it, so the meter counts and clips exactly the supervised tokens.
Generation goes through the harness's metered sampler, charged like any rollout (the data loader may collate
one batch ahead of training; that batch's generation is charged when it happens). The paper's phase-wise filter
(App. H.2.2, training only the first not-yet-learned step) is not applied: every own-prefix position is trained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from trl import SFTTrainer

from harness.budget import BudgetExceeded
from harness.generation import render_prompt
from harness.methods.base import MethodConfig, TrainContext
from harness.methods.self_sampled import require_sampler
from harness.methods.sft import SFTMethod, sft_trainer

IGNORE = -100


def own_prefix_row(prompt: list[int], gold: list[int], own: list[int], pad_id: int) -> tuple[list[int], list[int], list[int]]:
    """(input_ids, labels, attention_mask) of one row: the prompt, then the model's own tokens as context, with the
    gold completion as labels wherever the model's prefix reaches (`own` ends before any end token)."""
    width = len(gold)
    context = own[:width]
    inputs = prompt + context + [pad_id] * (width - len(context))
    labels = [IGNORE] * len(prompt) + [g if j <= len(context) else IGNORE for j, g in enumerate(gold)]
    mask = [1] * (len(prompt) + len(context)) + [0] * (width - len(context))
    return inputs, labels, mask


class OwnPrefixCollator:
    """Wraps TRL's collator: collate the gold rows, sample the model's own completions, rebuild the batch."""

    def __init__(self, collate: Callable[[list], dict], trainer: SFTTrainer, sampler, examples: Sequence) -> None:
        self.collate = collate
        self.trainer = trainer
        self.sampler = sampler
        tok = trainer.processing_class
        self.prompts = {tuple(tok(render_prompt(tok, ex.prompt), add_special_tokens=False)["input_ids"]): ex.prompt
                        for ex in examples}
        self.last_batch: dict[str, Any] | None = None
        """The rebuilt batch with the model's completions (tests read it)."""
        self.supervised: list[int] = []
        """Supervised tokens of every rebuilt batch, in order."""

    def __call__(self, rows: list) -> dict:
        batch = self.collate(rows)
        tok = self.trainer.processing_class
        prompts, golds = [], []
        for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True):
            start = next((i for i, v in enumerate(labels) if v != IGNORE), len(labels))
            prompts.append(ids[:start])
            golds.append([v for v in labels[start:] if v != IGNORE])
        messages = []
        for p in prompts:
            if tuple(p) not in self.prompts:
                raise ValueError(f"sft-no-tf: a training row's prompt {tok.decode(p)!r} is not among the domain training "
                                 "prompts, so the model cannot be sampled on it")
            messages.append(self.prompts[tuple(p)])
        try:
            sampled = self.sampler.sample(self.trainer.model, messages, k=1, temperature=0.0,
                                          max_new_tokens=max(len(g) for g in golds))
        except BudgetExceeded:
            sampled = []
        if len(sampled) < len(messages):  # a generation cap: no own prefix for the rest, and training stops here
            self.trainer.control.should_training_stop = True
        pad = tok.pad_token_id
        built, completions = [], []
        for i, (p, g) in enumerate(zip(prompts, golds, strict=True)):
            own = tok(sampled[i][0].text, add_special_tokens=False)["input_ids"] if i < len(sampled) else None
            completions.append(sampled[i][0].text if i < len(sampled) else None)
            inputs, labels, mask = own_prefix_row(p, g, own, pad) if own is not None else (p, [IGNORE] * len(p), [1] * len(p))
            built.append((inputs, labels, mask))
        width = max(len(b[0]) for b in built)
        out = {
            "input_ids": torch.tensor([b[0] + [pad] * (width - len(b[0])) for b in built]),
            "labels": torch.tensor([b[1] + [IGNORE] * (width - len(b[1])) for b in built]),
            "attention_mask": torch.tensor([b[2] + [0] * (width - len(b[2])) for b in built]),
        }
        self.last_batch = {**out, "completions": completions, "gold_labels": golds}
        self.supervised.append(int((out["labels"] != IGNORE).sum()))
        return out


class OwnPrefixSFTTrainer(SFTTrainer):
    """SFTTrainer whose batches put the model's own generated prefix in front of every gold label."""

    def __init__(self, *args: Any, sampler, examples: Sequence, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.own_prefix = OwnPrefixCollator(self.data_collator, self, sampler, examples)
        self.data_collator = self.own_prefix


class SFTNoTFMethod(SFTMethod):
    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> SFTTrainer:
        require_sampler(ctx, self.name)
        return sft_trainer(ctx, config, trainer_class=OwnPrefixSFTTrainer, sampler=ctx.sampler,
                           examples=ctx.train_examples)
