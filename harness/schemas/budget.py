"""A track's budget caps (`budget:`), enforced by the harness's meter."""

from __future__ import annotations

from harness.schemas.base import Strict


class BudgetConfig(Strict):
    """Caps metered by the harness; None means uncapped. A run that exceeds one is invalid."""

    gradient_tokens: int | None = None
    """Supervised target tokens that receive a gradient."""
    optimizer_steps: int | None = None
    train_flops: float | None = None
    """Estimated as 6 x parameters x gradient tokens."""
    generated_tokens: int | None = None
    """Tokens sampled from a model during training (rollouts, self/teacher data), end tokens included."""
    rollouts: int | None = None
    """Completions sampled during training (one prompt x one sample = one rollout)."""
    generation_flops: float | None = None
    """Estimated as 2 x parameters of the sampling model x generated tokens."""
