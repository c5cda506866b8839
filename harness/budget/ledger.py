"""The budget ledger: what a run consumed, the caps, and the arithmetic between them. Pure: no torch.

Everything here is plain numbers, so the rules of the budget are unit-tested without a model:

- Training FLOPs: 6 x parameters x gradient tokens (forward and backward of a dense decoder) for the
  policy's training forward.
- Forward FLOPs: 2 x parameters x tokens for every other forward pass during training, per model role
  ("reference": a frozen reference model; "scoring": a pass over the data before training, as FLOW's;
  "policy": a no-gradient forward of the trained model itself, e.g. old log-probabilities).
- Generation FLOPs: 2 x parameters of the sampling model x generated tokens.
- Total FLOPs = training + forward + generation FLOPs. The track's `train_flops` cap applies to the total,
  so a method that runs extra models pays for them with fewer gradient tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.schemas import BudgetConfig

FLOPS_PER_PARAM_PER_TOKEN = 6
FORWARD_FLOPS_PER_PARAM_PER_TOKEN = 2
GENERATION_FLOPS_PER_PARAM_PER_TOKEN = 2
GENERATION_CAPS = ("rollouts", "generated_tokens", "generation_flops")


class BudgetExceeded(RuntimeError):
    """Raised when sampling is refused because a generation cap leaves no room (`cap` names it)."""

    def __init__(self, cap: str, message: str) -> None:
        super().__init__(message)
        self.cap = cap


class UnmeteredGeneration(RuntimeError):
    """A method called `model.generate` itself instead of sampling through the harness's metered sampler."""


class UnmeteredForward(RuntimeError):
    """A model the meter does not know ran a forward pass during training (its compute would be free)."""


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss or gradient norm: the run stops at once and is recorded as failed."""


@dataclass
class Ledger:
    parameters: int
    gradient_tokens: int = 0
    processed_tokens: int = 0
    optimizer_steps: int = 0
    micro_batches: int = 0
    trainable_parameters: int | None = None
    """Parameters the optimizer updates (LoRA: the adapters only), counted when a metered trainer starts;
    the most over a run's trainers. FLOPs still use all `parameters`: the backward pass goes through them all."""
    rollouts: int = 0
    """Completions sampled during training (RL rollouts, self/teacher data)."""
    generated_tokens: int = 0
    """Tokens those completions hold, end tokens included."""
    generation_flops: float = 0.0
    """2 x parameters of the sampling model x its generated tokens, summed over the models that sampled."""
    forward_tokens: dict[str, int] = field(default_factory=dict)
    """Tokens forwarded outside the policy's training forward, per model role (non-padding tokens)."""
    forward_flops: dict[str, float] = field(default_factory=dict)
    """2 x parameters of the forwarding model x those tokens, per model role."""

    @property
    def train_flops(self) -> float:
        return float(FLOPS_PER_PARAM_PER_TOKEN * self.parameters * self.gradient_tokens)

    @property
    def extra_forward_flops(self) -> float:
        return float(sum(self.forward_flops.values()))

    @property
    def total_flops(self) -> float:
        """Training + every other forward + generation: what the track's `train_flops` cap limits."""
        return self.train_flops + self.extra_forward_flops + self.generation_flops

    def charge_generation(self, rollouts: int, tokens: int, parameters: int | None = None) -> None:
        self.rollouts += rollouts
        self.generated_tokens += tokens
        self.generation_flops += float(GENERATION_FLOPS_PER_PARAM_PER_TOKEN * (parameters or self.parameters) * tokens)

    def charge_forward(self, role: str, tokens: int, parameters: int | None = None) -> None:
        self.forward_tokens[role] = self.forward_tokens.get(role, 0) + tokens
        flops = float(FORWARD_FLOPS_PER_PARAM_PER_TOKEN * (parameters or self.parameters) * tokens)
        self.forward_flops[role] = self.forward_flops.get(role, 0.0) + flops

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "train_flops": self.train_flops, "total_flops": self.total_flops}


def token_cap(caps: BudgetConfig, ledger: Ledger, reserved_flops: float = 0.0) -> int | None:
    """Gradient tokens the run may reach in all: the gradient-token cap, or what the FLOPs cap leaves for
    6PN after the forward and generation FLOPs spent so far (and `reserved_flops` about to be spent),
    whichever is tighter; None when neither is set. Negative when the other FLOPs alone already pass the
    cap. Without other forwards or generation this is floor(train_flops / 6P), as it always was."""
    limits = []
    if caps.gradient_tokens is not None:
        limits.append(caps.gradient_tokens)
    if caps.train_flops is not None:
        spent = ledger.extra_forward_flops + ledger.generation_flops + reserved_flops
        limits.append(math.floor((caps.train_flops - spent) / (FLOPS_PER_PARAM_PER_TOKEN * ledger.parameters)))
    return min(limits) if limits else None


def token_cap_name(caps: BudgetConfig, cap: int) -> str:
    """Which cap a token cap from `token_cap` comes from."""
    return "gradient_tokens" if cap == caps.gradient_tokens else "train_flops"


def generation_room(caps: BudgetConfig, ledger: Ledger, max_tokens_each: int, parameters: int | None) -> dict[str, int]:
    """Rollouts that still fit under each set generation cap (and the total FLOPs cap), every rollout
    at its worst case of `max_tokens_each` tokens from a model of `parameters`."""
    tokens = max(max_tokens_each, 1)
    per_rollout_flops = GENERATION_FLOPS_PER_PARAM_PER_TOKEN * (parameters or ledger.parameters) * tokens
    rooms = {}
    if caps.rollouts is not None:
        rooms["rollouts"] = caps.rollouts - ledger.rollouts
    if caps.generated_tokens is not None:
        rooms["generated_tokens"] = (caps.generated_tokens - ledger.generated_tokens) // tokens
    if caps.generation_flops is not None:
        rooms["generation_flops"] = math.floor((caps.generation_flops - ledger.generation_flops) / per_rollout_flops)
    if caps.train_flops is not None:
        rooms["train_flops"] = math.floor((caps.train_flops - ledger.total_flops) / per_rollout_flops)
    return rooms


def cap_reached(caps: BudgetConfig, ledger: Ledger) -> str | None:
    """The cap that ends training now, or None."""
    cap = token_cap(caps, ledger)
    if cap is not None and ledger.gradient_tokens >= cap:
        return token_cap_name(caps, cap)
    if caps.optimizer_steps is not None and ledger.optimizer_steps >= caps.optimizer_steps:
        return "optimizer_steps"
    return None


def over_caps(caps: BudgetConfig, ledger: Ledger) -> list[str]:
    """The caps the ledger has passed (an empty list: within budget)."""
    used = {
        "gradient_tokens": ledger.gradient_tokens, "optimizer_steps": ledger.optimizer_steps,
        "train_flops": ledger.total_flops, **{k: getattr(ledger, k) for k in GENERATION_CAPS},
    }
    return [k for k, v in used.items() if getattr(caps, k) is not None and v > getattr(caps, k)]


def budget_report(caps: BudgetConfig, ledger: Ledger, stopped_by: str | None) -> dict[str, Any]:
    """ledger.json / metrics.json "budget": caps, what was used, whether it stayed within, what stopped it."""
    return {
        "caps": caps.model_dump(),
        "used": ledger.as_dict(),
        "within_budget": not over_caps(caps, ledger),
        "stopped_by_cap": stopped_by,
    }
