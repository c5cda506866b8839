"""flow: FLOW (Sanyal et al. 2025, "Upweighting easy samples in fine-tuning mitigates forgetting").

Static sequence-level weights computed once, before the first step, from the base model:

    L_i  = mean over sequence i's supervised tokens of -log p_base(y_t)      (its pre-trained loss)
    tau  = median over the training set of L_i                              (unless `temperature` is set)
    w_i  = exp(-L_i / tau)                                                  (easy sequences weigh more)
    loss = sum_i w_i * sum_t -log p_theta(y_t) / (number of supervised tokens)

This is the rule of the authors' released language code (get_dataset_temperature.py: tau = median of
the per-sequence mean loss; create_weighted_dataset.py: w = exp(-L/tau); WeightedLossTrainer with
loss_type="sequence"): the weights are not renormalised, so they lie in (0, 1] with the median sequence
at 1/e. Under AdamW a common factor on the loss barely changes the steps (only through epsilon and
gradient clipping); what matters is the relative weight of easy and hard sequences.

The weights are computed on the trainer's own tokenized dataset (same truncation and completion
mask as training), stored as a `flow_weight` column and handed to `compute_loss` by the collator.
The scoring pass is a forward pass of the base model with no gradient: not gradient tokens, but the
budget meter charges it as forward FLOPs of role "scoring" (2 x parameters x tokens).
"""

from __future__ import annotations

import torch
from pydantic import Field
from trl import SFTTrainer

from harness.budget import metered_as
from harness.methods.base import MethodConfig, TrainContext
from harness.methods.losses import label_log_probs, token_mean
from harness.methods.sft import SFTMethod

WEIGHT_COLUMN = "flow_weight"


def flow_weights(sequence_losses: torch.Tensor, temperature: float | None = None) -> tuple[torch.Tensor, float]:
    """(w_i = exp(-L_i / tau), tau) with tau the median of the losses unless `temperature` is given."""
    tau = float(torch.quantile(sequence_losses.float(), 0.5)) if temperature is None else temperature
    tau = max(tau, 1e-6)
    return torch.exp(-sequence_losses / tau), tau


def sequence_losses(log_probs: torch.Tensor, label_mask: torch.Tensor) -> torch.Tensor:
    """Mean NLL over each sequence's supervised tokens, (B,); 0 for a sequence without any."""
    m = label_mask.float()
    return (-log_probs * m).sum(1) / m.sum(1).clamp(min=1)


class FLOWConfig(MethodConfig):
    temperature: float | None = Field(None, gt=0)
    """tau in nats per token; None uses the median pre-trained sequence loss, the paper's parameter-free choice."""


class FLOWTrainer(SFTTrainer):
    def __init__(self, *args, temperature: float | None = None, scoring_batch_size: int = 64, **kwargs):
        super().__init__(*args, **kwargs)
        self.flow_losses = self._base_sequence_losses(scoring_batch_size)
        weights, self.flow_tau = flow_weights(self.flow_losses, temperature)
        self.train_dataset = self.train_dataset.add_column(WEIGHT_COLUMN, weights.tolist())
        collate = self.data_collator

        def collate_with_weights(examples: list[dict]) -> dict:
            batch = collate(examples)
            batch[WEIGHT_COLUMN] = torch.tensor([e[WEIGHT_COLUMN] for e in examples], dtype=torch.float32)
            return batch

        self.data_collator = collate_with_weights

    @metered_as("scoring")  # the budget meter charges this pass over the data as 2 x parameters x tokens
    @torch.no_grad()
    def _base_sequence_losses(self, batch_size: int) -> torch.Tensor:
        """Each training sequence's mean token loss under the model as it is now (the base), in dataset order."""
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        out = []
        for start in range(0, len(self.train_dataset), batch_size):
            rows = [self.train_dataset[i] for i in range(start, min(start + batch_size, len(self.train_dataset)))]
            batch = {k: v.to(device) for k, v in self.data_collator(rows).items() if torch.is_tensor(v)}
            res = self.model(**batch, use_cache=False, fused_lm_head=True)
            out.append(sequence_losses(res.log_probs, res.label_mask).float().cpu())
        self.model.train(was_training)
        return torch.cat(out)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if WEIGHT_COLUMN not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, WEIGHT_COLUMN]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        w = inputs.pop(WEIGHT_COLUMN)
        out = label_log_probs(model, inputs)
        loss = token_mean(w[:, None].to(out.log_probs.dtype) * -out.log_probs, out.label_mask, num_items_in_batch)
        return (loss, out) if return_outputs else loss


class FLOWMethod(SFTMethod):
    name = "flow"
    config_class = FLOWConfig
    trainer_class = FLOWTrainer

    def trainer_kwargs(self, ctx: TrainContext, config: FLOWConfig) -> dict:
        return {"temperature": config.temperature, "scoring_batch_size": config.per_device_train_batch_size}
