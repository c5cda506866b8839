"""What the runner sets up around a method's training: the metered sampler, the rollout log, the SFT
data recipe, the training curve; and what it keeps afterwards (rollouts.json, the saved model).

All of it is harness code: a method receives the sampler and the data through its TrainContext and
cannot change how they are metered or recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetMeter
from harness.checkpoints import CheckpointSelector
from harness.curve import TrainingCurve, chain_lead
from harness.data_recipes import RecipeContext, build_sft_data
from harness.rollouts import RolloutLog
from harness.sampler import MeteredSampler
from harness.schemas import DataRecipeConfig, TrackConfig
from harness.tasks import Example, Task
from harness.track_data import domain_train_examples, domain_train_task, to_dataset

MODEL_DIR = "model"


@dataclass
class Preparation:
    task: Task
    examples: tuple[Example, ...]
    train_dataset: Dataset
    sampler: MeteredSampler
    curve: TrainingCurve | None = None
    checkpoints: CheckpointSelector | None = None
    data_recipe: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def context_fields(self) -> dict[str, Any]:
        """The TrainContext fields the runner fills from the preparation."""
        return {"train_dataset": self.train_dataset, "sampler": self.sampler, "task": self.task, "train_examples": self.examples}

    def metrics(self, evaluated: dict[str, Any], steps: int) -> dict[str, Any]:
        """metrics.json fields: the data recipe, the training curve (closed with the final evaluation) and the
        checkpoint selection."""
        out: dict[str, Any] = {"data_recipe": self.data_recipe}
        if self.checkpoints is not None:
            out["checkpoints"] = self.checkpoints.to_json()
        if self.curve is not None:
            self.curve.add(steps, list((evaluated.get("tasks") or {}).values()))
            out["curve"] = self.curve.points
            lead = chain_lead(self.curve.points)
            if lead is not None:  # serial-chain tasks: one number for "all at once" vs "step by step"
                out["curve_summary"] = {"chain_lead": lead}
        return out


def prepare_training(
    track: TrackConfig, recipe: DataRecipeConfig, method, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
    meter: BudgetMeter, *, seed: int, runs_dir: Path, curve_every: int | None,
) -> Preparation:
    task = domain_train_task(track)
    examples = tuple(domain_train_examples(track))
    meter.rollout_log = RolloutLog.for_examples(task, examples)
    sampler = MeteredSampler(
        meter, tokenizer, max_new_tokens=track.eval.max_new_tokens, batch_size=track.eval.batch_size, seed=seed
    )
    prep = Preparation(task, examples, to_dataset(list(examples)), sampler)
    if method.trains and method.uses_sft_data:
        if recipe == DataRecipeConfig():
            prep.data_recipe = {"recipe": recipe.model_dump(), "examples": len(examples), "prompts": len(examples)}
        else:
            rctx = RecipeContext(
                task=task, examples=examples, model=model, tokenizer=tokenizer, sampler=sampler,
                max_new_tokens=track.eval.max_new_tokens, track=track.name, seed=seed, runs_dir=Path(runs_dir),
            )
            prep.train_dataset, prep.data_recipe = build_sft_data(recipe, rctx)
    if curve_every and method.trains:
        prep.curve = TrainingCurve(track, tokenizer, meter, curve_every)
        prep.curve.record(model, 0)
        meter.step_listeners.append(prep.curve)
    every = track.selection.checkpoint_every
    if every and method.trains:  # the track's checkpoint selection, on validation items (harness/checkpoints.py)
        prep.checkpoints = CheckpointSelector(track, tokenizer, meter, every)
        meter.step_listeners.append(prep.checkpoints)
    return prep


def finish_training(out: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, meter: BudgetMeter, save_model: bool) -> None:
    """Keep the run's rollout tallies (rollouts.json) and, when asked, the trained model (<run>/model)."""
    if meter.rollout_log is not None:
        meter.rollout_log.save(out)
    if save_model:
        model.save_pretrained(out / MODEL_DIR)
        tokenizer.save_pretrained(out / MODEL_DIR)
