"""talr: token-adaptive loss reweighting (the TALR paper, Appendix D).

Per supervised token, w = max(sg(p^(1/tau)), floor) with tau the median over the micro-batch of
each sequence's mean token NLL; the loss is the mean over supervised tokens of w * (-log p).
We divide by the number of supervised tokens, not by the sum of weights, so confident tokens keep
their full gradient and uncertain ones are damped (a choice recorded here, as the paper leaves the
normaliser implicit). Under gradient accumulation tau is computed per micro-batch.
"""

from __future__ import annotations

import torch
from pydantic import Field
from trl import SFTTrainer

from harness.methods.base import MethodConfig, TrainContext
from harness.methods.losses import label_log_probs, token_mean
from harness.methods.sft import SFTMethod


def talr_weights(log_probs: torch.Tensor, label_mask: torch.Tensor, floor: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token weights (B, T) and the temperature tau, both without gradient."""
    m = label_mask.float()
    nll = -log_probs.detach()
    seq_mean = (nll * m).sum(1) / m.sum(1).clamp(min=1)
    has_tokens = m.sum(1) > 0
    tau = (seq_mean[has_tokens] if has_tokens.any() else seq_mean).median().clamp(min=1e-6)
    w = torch.exp(log_probs.detach() / tau).clamp(min=floor)
    return w * m, tau


def talr_loss(
    log_probs: torch.Tensor, label_mask: torch.Tensor, num_items: torch.Tensor | int | None = None, floor: float = 0.01
) -> torch.Tensor:
    """mean over supervised tokens of w * (-log p); `num_items` overrides the count (gradient accumulation)."""
    w, _ = talr_weights(log_probs, label_mask, floor)
    return token_mean(w * -log_probs, label_mask, num_items)


class TALRConfig(MethodConfig):
    floor: float = Field(0.01, ge=0, le=1)
    """Minimum token weight, so no target token is ignored entirely (0.01 in the paper)."""


class TALRTrainer(SFTTrainer):
    def __init__(self, *args, floor: float = 0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.floor = floor

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = label_log_probs(model, inputs)
        loss = talr_loss(out.log_probs, out.label_mask, num_items_in_batch, self.floor)
        return (loss, out) if return_outputs else loss


class TALRMethod(SFTMethod):
    name = "talr"
    config_class = TALRConfig
    trainer_class = TALRTrainer

    def trainer_kwargs(self, ctx: TrainContext, config: TALRConfig) -> dict:
        return {"floor": config.floor}
