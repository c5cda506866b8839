"""talr: token-adaptive loss reweighting (the TALR paper, Appendix D).

Per supervised token, w = max(sg(p^(1/tau)), floor) with tau the median over the micro-batch of
each sequence's mean token NLL; the loss is the mean over supervised tokens of w * (-log p).
We divide by the number of supervised tokens, not by the sum of weights, so confident tokens keep
their full gradient and uncertain ones are damped (a choice recorded here, as the paper leaves the
normaliser implicit). Under gradient accumulation tau is computed per micro-batch.
"""

from __future__ import annotations

import torch

from harness.methods.configs import TALRConfig
from harness.methods.token_loss import TokenLoss
from harness.methods.token_trainer import TokenBatch


def talr_weights(log_probs: torch.Tensor, label_mask: torch.Tensor, floor: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token weights (B, T) and the temperature tau, both without gradient."""
    m = label_mask.float()
    nll = -log_probs.detach()
    seq_mean = (nll * m).sum(1) / m.sum(1).clamp(min=1)
    has_tokens = m.sum(1) > 0
    tau = (seq_mean[has_tokens] if has_tokens.any() else seq_mean).median().clamp(min=1e-6)
    w = torch.exp(log_probs.detach() / tau).clamp(min=floor)
    return w * m, tau


class TALR(TokenLoss):
    def loss(self, batch: TokenBatch, config: TALRConfig):
        w, tau = talr_weights(batch.log_probs, batch.label_mask, config.floor)
        return batch.mean(w * -batch.log_probs), {"talr_tau": tau}
