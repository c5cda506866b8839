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

from harness.methods.configs import L2Config
from harness.methods.token_loss import TokenLoss
from harness.methods.token_trainer import TokenBatch


def l2_distance(model: torch.nn.Module, base: dict[str, torch.Tensor]) -> torch.Tensor:
    """sum over trainable parameters of ||theta - theta_base||^2, differentiable in theta."""
    terms = [((p - base[name].to(p.device)) ** 2).sum() for name, p in model.named_parameters() if p.requires_grad]
    return torch.stack(terms).sum()


class L2(TokenLoss):
    reference = "weights"  # theta_base: the weights before the first step (never run forward)

    def loss(self, batch: TokenBatch, config: L2Config):
        distance = l2_distance(batch.model, batch.reference_weights)
        return batch.mean(-batch.log_probs) + batch.once_per_step(config.coef * distance), {"l2_distance": distance}
