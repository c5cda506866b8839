"""Checkpoint selection: evaluate the validation items every N optimizer steps and keep the best weights.

A track turns it on with `selection: {checkpoint_every: N}` (it needs a validation set; off by default, and
off on the tiny tracks). The runner registers a `CheckpointSelector` as a listener of the budget meter's
callback, like the training curve (harness/curve.py): every N optimizer steps it evaluates every task of the
track on its validation items (never the test items) with the track's eval settings, not metered, and keeps
a CPU copy of the weights whenever the selection score (the track's `selection.metric`: domain + general, or
domain alone, as for sweeps in harness/selection.py) beats every earlier one; ties keep the earlier step.
After training the final model is evaluated the same way, and the best weights are loaded back into it
before the run's own evaluation, so the run is scored as the chosen checkpoint.

metrics.json keeps `checkpoints`: {"every", "metric", "chosen_step", "restored", "note", "curve": [{"step",
"score", "domain", "general", "mean_length"}]}, score the selection score, domain and general the
validation means (0-100), mean_length the mean validation completion length of the domain tasks. A method
whose trained model is not the model it trained (LoRA merges its adapters) cannot take a checkpoint's
weights back: the final model is kept and `restored` is false with the reason in `note`.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetMeter
from harness.step_evaluation import StepEvaluation
from harness.schemas import TrackConfig
from harness.track_data import eval_tasks, validation_items


class CheckpointSelector(StepEvaluation):
    def __init__(self, track: TrackConfig, tokenizer: PreTrainedTokenizerBase, meter: BudgetMeter, every: int) -> None:
        super().__init__(track, tokenizer, meter, every)
        self.metric = track.selection.metric
        self.tasks = [(task, role, validation_items(track, task)) for task, role in eval_tasks(track)]
        self.points: list[dict[str, Any]] = []
        self._best: tuple[float, int, dict[str, torch.Tensor]] | None = None
        self.restored: bool | None = None
        self.note: str | None = None
        self.chosen_step: int | None = None
        """The step whose weights the run is scored with (set by `finish`)."""

    def record(self, model: PreTrainedModel, step: int) -> None:
        """Evaluate the validation items at this step; keep the weights when they are the best so far."""
        if self.points and self.points[-1]["step"] == step:
            return
        was_training = model.training
        model.eval()
        results = self.evaluate(model, self.tasks)
        model.train(was_training)
        means = {}
        for role in ("domain", "general"):
            scores = [r.metrics["score"] for r in results if r.role == role]
            means[role] = sum(scores) / len(scores) if scores else None
        score = means["domain"] if self.metric == "domain" else sum(v for v in means.values() if v is not None)
        lengths = [r.metrics["mean_length"] for r in results if r.role == "domain"]
        self.points.append({"step": step, "score": round(score, 4),
                            "domain": None if means["domain"] is None else round(means["domain"], 4),
                            "general": None if means["general"] is None else round(means["general"], 4),
                            "mean_length": round(sum(lengths) / len(lengths), 3) if lengths else 0.0})
        if self._best is None or score > self._best[0]:  # ties keep the earlier checkpoint
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self._best = (score, step, state)

    def finish(self, model: PreTrainedModel, step: int) -> PreTrainedModel:
        """Evaluate the final model, then load the best checkpoint's weights into it (when they fit it)."""
        self.record(model, step)
        _, best_step, state = self._best
        self._best = None  # free the copy
        self.restored, self.chosen_step = False, step
        if best_step == step:
            self.note = "the final weights scored best"
        elif set(state) != set(model.state_dict()):
            self.note = (f"step {best_step} scored best, but the trained model's weights are not the ones evaluated "
                         "during training (LoRA merges its adapters), so the final model is kept")
        else:
            model.load_state_dict(state)
            self.restored, self.chosen_step = True, best_step
        return model

    def to_json(self) -> dict[str, Any]:
        return {"every": self.every, "metric": self.metric, "chosen_step": self.chosen_step,
                "restored": self.restored, "note": self.note, "curve": self.points}
