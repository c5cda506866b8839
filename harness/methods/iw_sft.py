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

from harness.methods.configs import IWSFTConfig
from harness.methods.token_loss import TokenLoss
from harness.methods.token_trainer import TokenBatch


def iw_sft_weights(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, label_mask: torch.Tensor,
                   temperature: float = 1.0, max_weight: float = 16.0) -> torch.Tensor:
    """Per-sequence weights (B,), without gradient."""
    m = label_mask.float()
    ratio = ((log_probs.detach() - ref_log_probs) * m).sum(1) / m.sum(1).clamp(min=1)
    return torch.exp(temperature * ratio).clamp(max=max_weight)


class IWSFT(TokenLoss):
    reference = True

    def loss(self, batch: TokenBatch, config: IWSFTConfig):
        w = iw_sft_weights(batch.log_probs, batch.reference_log_probs, batch.label_mask, config.temperature,
                           config.max_weight)
        return batch.mean(w[:, None] * -batch.log_probs), {"iw_mean": w.mean()}
