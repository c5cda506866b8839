"""Training curves: the domain tasks evaluated every N optimizer steps while a method trains.

The runner registers a `TrainingCurve` as a listener of the budget meter's callback, so it follows the
run's optimizer steps across every metered trainer of a method (STaR's rounds included). Evaluation
uses the track's own eval settings and test items (greedy by default) and is not metered: it opens
the meter's generation guard without charging it. metrics.json keeps the points as "curve":
[{"step", "score", "mean_length"}], score the mean domain score (0-100), mean_length the mean
completion length in tokens; for a domain task with a serial chain (ksparse) a point also holds
"chain": {"local": [...], "gold": [...]}, the accuracy of each chain position (harness.evaluate's
`chain_accuracy` of the first such domain task), which the run page draws as one line per step.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetMeter
from harness.step_evaluation import StepEvaluation
from harness.schemas import TrackConfig
from harness.track_data import eval_tasks, test_items


def chain_lead(points: list[dict[str, Any]]) -> float | None:
    """How far the first chain step's local accuracy runs ahead of the last chain step's, in points, averaged over
    the curve's points after step 0: near 0 when the chain is learned all at once, large when step by step (the
    later step catches up only after the earlier one). None without per-step points."""
    later = [p for p in points if p.get("chain") and p["step"] > 0]
    if not later:
        return None
    local = [p["chain"]["local"] for p in later]
    last_step = len(local[0]) - 2  # the last chain step (the answer is the last entry)
    return round(sum(acc[0] - acc[last_step] for acc in local) / len(local), 3)


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
        point = {
            "step": step,
            "score": round(sum(m["score"] for m in domain) / len(domain), 4),
            "mean_length": round(sum(m["mean_length"] for m in domain) / len(domain), 3),
        }
        chain = next((m["chain_accuracy"] for m in domain if m.get("chain_accuracy")), None)
        if chain is not None:
            point["chain"] = chain
        self.points.append(point)
