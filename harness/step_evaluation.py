"""Evaluation every N optimizer steps while a method trains (training curves, checkpoint selection).

The runner registers a listener with the budget meter's callback, so it follows the run's optimizer steps
across every metered trainer of a method. Evaluation uses the track's own eval settings and is not charged
to the budget: it opens the meter's generation guard without charging it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetMeter
from harness.evaluate import TaskEvaluation, evaluate_task
from harness.schemas import TrackConfig
from harness.tasks import Example, Task


class StepEvaluation(ABC):
    """Calls `record(model, step)` every `every` optimizer steps; `evaluate` runs (task, role, items) triples."""

    def __init__(self, track: TrackConfig, tokenizer: PreTrainedTokenizerBase, meter: BudgetMeter, every: int) -> None:
        self.track = track
        self.tokenizer = tokenizer
        self.meter = meter
        self.every = every

    def __call__(self, model: PreTrainedModel | None, step: int) -> None:
        if model is not None and step % self.every == 0:
            self.record(model, step)

    @abstractmethod
    def record(self, model: PreTrainedModel, step: int) -> None:
        """Evaluate `model` after optimizer step `step` and keep what the subclass keeps (a curve point, a checkpoint)."""

    def evaluate(self, model: PreTrainedModel, tasks: list[tuple[Task, str, list[Example]]]) -> list[TaskEvaluation]:
        with self.meter.sampling_allowed():  # evaluation, not training: not charged to the budget
            return [evaluate_task(model, self.tokenizer, task, items, role, self.track.eval) for task, role, items in tasks]
