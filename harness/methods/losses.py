"""The supervised-token mean every token loss normalises by (harness.methods.token_trainer.TokenBatch.mean)."""

from __future__ import annotations

import torch


def token_mean(values: torch.Tensor, label_mask: torch.Tensor, num_items: torch.Tensor | int | None = None) -> torch.Tensor:
    """sum over supervised tokens of `values`, divided by their count -- or by `num_items`, the whole batch's count
    that the trainer passes under gradient accumulation, so the micro-batches add up to the batch mean."""
    m = label_mask.to(values.dtype)
    n = m.sum() if num_items is None else num_items
    return (values * m).sum() / torch.as_tensor(n, device=values.device).clamp(min=1)
