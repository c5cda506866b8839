"""kl: SFT plus coef * KL(policy || base) on the supervised tokens, with the k3 estimator.

Per supervised token, with d = log p_base(y_t) - log p_theta(y_t) at the demonstrated token y_t:
k3 = exp(d) - d - 1 (>= 0, the DeepSeek-R1 / GRPO estimator of KL(p_theta || p_base) when y_t is drawn
from p_theta; here the tokens are the demonstrations, as in the TALR paper's Appendix C.4). It is
averaged over the supervised tokens exactly like the NLL (divided by the same token count, so gradient
accumulation adds up to the mean over the whole batch). The base log-probabilities come from a frozen
copy of the model taken when the trainer is built, under torch.no_grad, through TRL's fused LM head.
coef 0.001 is the paper's value. At the start the policy equals the base, so the penalty and its
gradient (1 - p_base / p_theta per token) are zero: the first step is an SFT step.
"""

from __future__ import annotations

import torch

from harness.methods.configs import KLConfig
from harness.methods.losses import token_mean
from harness.methods.token_loss import TokenLoss
from harness.methods.token_trainer import TokenBatch


def k3(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, label_mask: torch.Tensor) -> torch.Tensor:
    """Per-token exp(d) - d - 1 with d = ref - policy log-prob, (B, T-1); 0 outside the mask."""
    d = (ref_log_probs - log_probs) * label_mask
    return torch.exp(d) - d - 1


def k3_kl(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, label_mask: torch.Tensor,
          num_items: torch.Tensor | int | None = None) -> torch.Tensor:
    """Mean over supervised tokens of exp(d) - d - 1, d = ref - policy log-prob; `num_items` overrides the count."""
    return token_mean(k3(log_probs, ref_log_probs, label_mask), label_mask, num_items)


class KL(TokenLoss):
    reference = True

    def loss(self, batch: TokenBatch, config: KLConfig):
        ref = batch.reference_log_probs
        loss = batch.mean(-batch.log_probs) + config.coef * batch.mean(k3(batch.log_probs, ref, batch.label_mask))
        return loss, {"kl": k3_kl(batch.log_probs.detach(), ref, batch.label_mask)}  # this micro-batch's own mean
