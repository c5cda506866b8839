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
from harness.step_evaluation import StepEvaluation
from harness.schemas import TrackConfig
from harness.track_data import eval_tasks, test_items


class TrainingCurve(StepEvaluation):
    def __init__(self, track: TrackConfig, tokenizer: PreTrainedTokenizerBase, meter: BudgetMeter, every: int) -> None:
        super().__init__(track, tokenizer, meter, every)
        self.tasks = [(task, "domain", test_items(track, task)) for task, role in eval_tasks(track) if role == "domain"]
        self.points: list[dict[str, Any]] = []

    def record(self, model: PreTrainedModel, step: int) -> None:
        if self.points and self.points[-1]["step"] == step:
            return
        self.add(step, [r.metrics for r in self.evaluate(model, self.tasks)])

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
