"""Pieces the SFT-family losses share: per-label log-probabilities and the supervised-token mean."""

from __future__ import annotations

import torch


def label_log_probs(model, inputs: dict):
    """Forward through TRL's fused LM head: `.log_probs` (B, T-1) of each next-token label (0 where the label is
    -100) and `.label_mask`, without materialising the full logits."""
    inputs["use_cache"] = False
    return model(**inputs, fused_lm_head=True)


def token_mean(values: torch.Tensor, label_mask: torch.Tensor, num_items: torch.Tensor | int | None = None) -> torch.Tensor:
    """sum over supervised tokens of `values`, divided by their count -- or by `num_items`, the whole batch's count
    that the trainer passes under gradient accumulation, so the micro-batches add up to the batch mean."""
    m = label_mask.to(values.dtype)
    n = m.sum() if num_items is None else num_items
    return (values * m).sum() / torch.as_tensor(n, device=values.device).clamp(min=1)
