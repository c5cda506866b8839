"""iw-sft: importance-weighted SFT (Qin & Springenberg 2025), the sequence-level variant; DFT's concurrent baseline.

The DFT paper describes it only as SFT with importance weights from the data-generating policy, which
needs a separate reference model; the rule below is the authors' released LLM code (IwSFTLoss with
sum_over_time=True, temp=1, clip [0, 16], reference = the frozen starting model):

    r_i  = mean over sequence i's supervised tokens of (log p_theta(y_t) - log p_ref(y_t))
    w_i  = sg(min(exp(temperature * r_i), max_weight))
    loss = sum_i w_i * sum_t -log p_theta(y_t) / (number of supervised tokens)

So a demonstration the model has already made more likely than the base did weighs more: SFT's lower
bound on the sparse-reward RL objective, tightened. The ratio is the per-token geometric mean (the
length-normalised trajectory ratio), not the full product, which would overflow. At the start
p_theta = p_ref, every weight is 1 and the first step is an SFT step.
"""

from __future__ import annotations

import torch
from pydantic import Field
from transformers import PreTrainedModel
from trl import SFTTrainer

from harness.methods.base import MethodConfig, TrainContext
from harness.methods.kl import frozen_reference, reference_log_probs
from harness.methods.losses import label_log_probs, token_mean
from harness.methods.sft import SFTMethod


def iw_sft_weights(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, label_mask: torch.Tensor,
                   temperature: float = 1.0, max_weight: float = 16.0) -> torch.Tensor:
    """Per-sequence weights (B,), without gradient."""
    m = label_mask.float()
    ratio = ((log_probs.detach() - ref_log_probs) * m).sum(1) / m.sum(1).clamp(min=1)
    return torch.exp(temperature * ratio).clamp(max=max_weight)


class IWSFTConfig(MethodConfig):
    temperature: float = Field(1.0, gt=0)
    """Multiplies the mean per-token log-ratio before exp (dimensionless); 1.0 as in the authors' code."""
    max_weight: float = Field(16.0, gt=0)
    """Upper clip of a sequence's weight, to bound the variance; 16 as in the authors' code."""


class IWSFTTrainer(SFTTrainer):
    def __init__(self, *args, ref_model: PreTrainedModel, temperature: float = 1.0, max_weight: float = 16.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.ref_model = ref_model
        self.temperature = temperature
        self.max_weight = max_weight

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = label_log_probs(model, inputs)
        ref = reference_log_probs(self.ref_model, inputs, out.log_probs.device)
        w = iw_sft_weights(out.log_probs, ref, out.label_mask, self.temperature, self.max_weight)
        loss = token_mean(w[:, None] * -out.log_probs, out.label_mask, num_items_in_batch)
        self._metrics["train" if model.training else "eval"]["iw_mean"].append(w.mean().item())
        return (loss, out) if return_outputs else loss


class IWSFTMethod(SFTMethod):
    name = "iw-sft"
    config_class = IWSFTConfig
    trainer_class = IWSFTTrainer

    def trainer_kwargs(self, ctx: TrainContext, config: IWSFTConfig) -> dict:
        return {"ref_model": frozen_reference(ctx.model), "temperature": config.temperature,
                "max_weight": config.max_weight}
