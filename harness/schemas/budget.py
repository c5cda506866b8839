"""A track's budget caps (`budget:`), enforced by the harness's meter."""

from __future__ import annotations

from pydantic import Field

from harness.schemas.base import Strict


class BudgetConfig(Strict):
    """Caps metered by the harness; None means uncapped. A run that exceeds one is invalid. Caps are >= 0 and finite."""

    gradient_tokens: int | None = Field(None, ge=0)
    """Supervised target tokens that receive a gradient."""
    optimizer_steps: int | None = Field(None, ge=0)
    train_flops: float | None = Field(None, ge=0)
    """Caps the total: 6 x parameters x gradient tokens, plus 2 x parameters x tokens of every other forward
    pass during training (reference models, scoring passes), plus generation FLOPs."""
    generated_tokens: int | None = Field(None, ge=0)
    """Tokens sampled from a model during training (rollouts, self/teacher data), end tokens included."""
    rollouts: int | None = Field(None, ge=0)
    """Completions sampled during training (one prompt x one sample = one rollout)."""
    generation_flops: float | None = Field(None, ge=0)
    """Estimated as 2 x parameters of the sampling model x generated tokens."""
