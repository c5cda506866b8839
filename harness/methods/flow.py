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
mask as training), stored as the base trainer's `sequence_weight` column and handed to the loss by the collator
(TokenLoss.sequence_weights).
The scoring pass is a forward pass of the base model with no gradient: not gradient tokens, but the
budget meter charges it as forward FLOPs of role "scoring" (2 x parameters x tokens; see
TokenLossTrainer.base_sequence_losses).
"""

from __future__ import annotations

import torch

from harness.methods.configs import FLOWConfig
from harness.methods.token_loss import TokenLoss
from harness.methods.token_trainer import TokenBatch, TokenLossTrainer, sequence_losses

__all__ = ["FLOW", "flow_weights", "sequence_losses"]


def flow_weights(sequence_losses: torch.Tensor, temperature: float | None = None) -> tuple[torch.Tensor, float]:
    """(w_i = exp(-L_i / tau), tau) with tau the median of the losses unless `temperature` is given."""
    tau = float(torch.quantile(sequence_losses.float(), 0.5)) if temperature is None else temperature
    tau = max(tau, 1e-6)
    return torch.exp(-sequence_losses / tau), tau


class FLOW(TokenLoss):
    def sequence_weights(self, trainer: TokenLossTrainer, config: FLOWConfig):
        losses = trainer.base_sequence_losses(batch_size=config.per_device_train_batch_size)
        weights, tau = flow_weights(losses, config.temperature)
        return weights, {"flow_tau": tau}

    def loss(self, batch: TokenBatch, config: FLOWConfig):
        w = batch.sequence_weights[:, None].to(batch.log_probs.dtype)
        return batch.mean(w * -batch.log_probs), {}
