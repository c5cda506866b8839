"""The budget meter: the harness, not the method, counts what training consumed and stops it at the cap.

How it meters (independent of the method's own loss or logging):
- `wrap_collator` sits between the dataset and the trainer. For each collated micro-batch it counts
  the supervised tokens (labels != -100 after the causal shift) and the processed tokens, and it
  *clips* supervision once the gradient-token cap would be passed: labels beyond the cap become
  -100. A method therefore cannot receive a gradient from more tokens than the cap allows, whatever
  its loss does.
- `MeterCallback` moves a micro-batch's counts into the ledger when the trainer has consumed it
  (each `on_substep_end` / `on_step_end` is one micro-batch; batches are collated ahead of use, so
  counts wait in a FIFO), counts optimizer steps, and stops training when a cap is reached.

FLOPs are estimated as 6 x parameters x gradient tokens (forward + backward of a dense decoder).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import TrainerCallback

from harness.config import BudgetConfig

FLOPS_PER_PARAM_PER_TOKEN = 6


@dataclass
class Ledger:
    parameters: int
    gradient_tokens: int = 0
    processed_tokens: int = 0
    optimizer_steps: int = 0
    micro_batches: int = 0

    @property
    def train_flops(self) -> float:
        return float(FLOPS_PER_PARAM_PER_TOKEN * self.parameters * self.gradient_tokens)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "train_flops": self.train_flops}


class BudgetMeter:
    def __init__(self, caps: BudgetConfig, parameters: int) -> None:
        self.caps = caps
        self.ledger = Ledger(parameters=parameters)
        self.issued_tokens = 0  # supervised tokens handed out by the collator (consumed or queued)
        self._queue: deque[tuple[int, int]] = deque()
        self.stopped_by: str | None = None
        self.log_history: list[dict[str, Any]] = []  # every trainer's logs, in order, for train_log.json

    @property
    def token_cap(self) -> int | None:
        """The gradient-token cap implied by the gradient-token and FLOPs caps, whichever is tighter."""
        caps = []
        if self.caps.gradient_tokens is not None:
            caps.append(self.caps.gradient_tokens)
        if self.caps.train_flops is not None:
            caps.append(math.floor(self.caps.train_flops / (FLOPS_PER_PARAM_PER_TOKEN * self.ledger.parameters)))
        return min(caps) if caps else None

    def wrap_collator(self, collate: Callable[[list], dict]) -> Callable[[list], dict]:
        def metered_collate(examples: list) -> dict:
            batch = collate(examples)
            self._meter_batch(batch)
            return batch

        return metered_collate

    def _meter_batch(self, batch: dict) -> None:
        labels = batch["labels"]
        supervised = labels[:, 1:] != -100  # the first position is never predicted
        cap = self.token_cap
        if cap is not None:
            room = max(cap - self.issued_tokens, 0)
            flat = supervised.flatten()
            if int(flat.sum()) > room:
                # keep the first `room` supervised tokens (row-major), mask the rest
                keep = torch.cumsum(flat.long(), 0) <= room
                clipped = (flat & ~keep).view_as(supervised)
                labels[:, 1:][clipped] = -100
                supervised = labels[:, 1:] != -100
        n_sup = int(supervised.sum())
        mask = batch.get("attention_mask")
        n_proc = int(mask.sum()) if mask is not None else int(labels.numel())
        self.issued_tokens += n_sup
        self._queue.append((n_sup, n_proc))

    def consume_micro_batch(self) -> None:
        if not self._queue:
            return
        n_sup, n_proc = self._queue.popleft()
        self.ledger.gradient_tokens += n_sup
        self.ledger.processed_tokens += n_proc
        self.ledger.micro_batches += 1

    def cap_reached(self) -> str | None:
        cap = self.token_cap
        if cap is not None and self.ledger.gradient_tokens >= cap:
            return "train_flops" if cap != self.caps.gradient_tokens else "gradient_tokens"
        if self.caps.optimizer_steps is not None and self.ledger.optimizer_steps >= self.caps.optimizer_steps:
            return "optimizer_steps"
        return None

    def within_budget(self) -> bool:
        c = self.caps
        return not (
            (c.gradient_tokens is not None and self.ledger.gradient_tokens > c.gradient_tokens)
            or (c.optimizer_steps is not None and self.ledger.optimizer_steps > c.optimizer_steps)
            or (c.train_flops is not None and self.ledger.train_flops > c.train_flops)
        )

    def report(self) -> dict[str, Any]:
        return {
            "caps": self.caps.model_dump(),
            "used": self.ledger.as_dict(),
            "within_budget": self.within_budget(),
            "stopped_by_cap": self.stopped_by,
        }

    def callback(self) -> MeterCallback:
        return MeterCallback(self)


class MeterCallback(TrainerCallback):
    def __init__(self, meter: BudgetMeter) -> None:
        self.meter = meter

    def on_substep_end(self, args, state, control, **kwargs):
        self.meter.consume_micro_batch()
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.meter.log_history.append({"step": state.global_step, **(logs or {})})
        return control

    def on_step_end(self, args, state, control, **kwargs):
        self.meter.consume_micro_batch()
        self.meter.ledger.optimizer_steps += 1
        reason = self.meter.cap_reached()
        if reason:
            self.meter.stopped_by = reason
            control.should_training_stop = True
        return control


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def attach_meter(trainer, meter: BudgetMeter) -> None:
    """Meter a built trainer: wrap its collator and add the callback. Called by the harness, not the method."""
    trainer.data_collator = meter.wrap_collator(trainer.data_collator)
    trainer.add_callback(meter.callback())
