"""Training curves: the domain tasks evaluated every N optimizer steps while a method trains.

The runner registers a `TrainingCurve` as a listener of the budget meter's callback, so it follows the
run's optimizer steps across every metered trainer of a method (STaR's rounds included). Evaluation
uses the track's own eval settings and test items (greedy by default) and is not metered: it opens
the meter's generation guard without charging it. metrics.json keeps the points as "curve":
[{"step", "score", "mean_length"}], score the mean domain score (0-100), mean_length the mean
completion length in tokens.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetMeter
from harness.evaluate import evaluate_task
from harness.schemas import TrackConfig
from harness.track_data import eval_tasks, test_items


class TrainingCurve:
    def __init__(self, track: TrackConfig, tokenizer: PreTrainedTokenizerBase, meter: BudgetMeter, every: int) -> None:
        self.track = track
        self.tokenizer = tokenizer
        self.meter = meter
        self.every = every
        self.tasks = [(task, test_items(track, task)) for task, role in eval_tasks(track) if role == "domain"]
        self.points: list[dict[str, Any]] = []

    def __call__(self, model: PreTrainedModel | None, step: int) -> None:
        if model is not None and step % self.every == 0:
            self.record(model, step)

    def record(self, model: PreTrainedModel, step: int) -> None:
        if self.points and self.points[-1]["step"] == step:
            return
        with self.meter.sampling_allowed():  # evaluation, not training: not charged to the budget
            results = [evaluate_task(model, self.tokenizer, task, items, "domain", self.track.eval) for task, items in self.tasks]
        self.add(step, [r.metrics for r in results])

    def add(self, step: int, task_metrics: list[dict[str, Any]]) -> None:
        """A point from per-task metrics (the run's final evaluation closes the curve with its own)."""
        domain = [m for m in task_metrics if m.get("role") == "domain"]
        if not domain or (self.points and self.points[-1]["step"] == step):
            return
        self.points.append({
            "step": step,
            "score": round(sum(m["score"] for m in domain) / len(domain), 4),
            "mean_length": round(sum(m["mean_length"] for m in domain) / len(domain), 3),
        })
