"""l2: SFT plus an L2 pull towards the base weights, coef * sum_i ||theta_i - theta_base_i||^2.

theta_base is a frozen copy of the weights taken when the trainer is built (before any step), so the
penalty and its gradient are zero at the start and grow as the model drifts. The sum runs over every
trainable parameter (tied embeddings counted once). Note the scale: Sanyal et al.'s code (whose
baselines the TALR paper follows) divides the same sum by the parameter count, so their lambda is
our coef times the number of parameters. Under gradient accumulation the penalty is split evenly
over the micro-batches of a step, so each optimizer step carries it once.
"""

from __future__ import annotations

import torch
from pydantic import Field
from trl import SFTTrainer

from harness.methods.base import MethodConfig, TrainContext
from harness.methods.sft import SFTMethod


def l2_distance(model: torch.nn.Module, base: dict[str, torch.Tensor]) -> torch.Tensor:
    """sum over trainable parameters of ||theta - theta_base||^2, differentiable in theta."""
    terms = [((p - base[name].to(p.device)) ** 2).sum() for name, p in model.named_parameters() if p.requires_grad]
    return torch.stack(terms).sum()


class L2Config(MethodConfig):
    coef: float = Field(1e-3, ge=0)
    """Penalty per unit of summed squared weight drift; at 1e-3 a tiny-arith run ends with drift ~35 (penalty ~0.04
    against an NLL ~0.6) and keeps general ability SFT loses. 0 is plain SFT."""


class L2Trainer(SFTTrainer):
    def __init__(self, *args, coef: float = 1e-3, **kwargs):
        super().__init__(*args, **kwargs)
        self.coef = coef
        # Frozen before the first step: the weights the penalty pulls back to.
        self.base_weights = {name: p.detach().clone() for name, p in self.model.named_parameters() if p.requires_grad}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        nll, outputs = loss if return_outputs else (loss, None)
        distance = l2_distance(self.model, self.base_weights)
        # The trainer leaves the 1/accumulation scaling to a loss normalised by num_items_in_batch; the penalty
        # is a per-step quantity, so split it over the micro-batches itself in that case.
        scaled_by_us = self.model_accepts_loss_kwargs and num_items_in_batch is not None
        steps = self.current_gradient_accumulation_steps if scaled_by_us else 1
        loss = nll + self.coef * distance / steps
        self._metrics["train" if model.training else "eval"]["l2_distance"].append(distance.item())
        return (loss, outputs) if return_outputs else loss


class L2Method(SFTMethod):
    name = "l2"
    config_class = L2Config
    trainer_class = L2Trainer

    def trainer_kwargs(self, ctx: TrainContext, config: L2Config) -> dict:
        return {"coef": config.coef}
