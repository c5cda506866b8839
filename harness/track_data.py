"""The data a track fixes: test items per task, the domain training set, and the pretraining mixture.

Test items come first and are excluded from every training set, so no run can train on a test prompt.
"""

from __future__ import annotations

import random
from typing import Any

from datasets import Dataset

from harness.config import TaskRef, TrackConfig
from harness.tasks import Example, Task, load_task


def track_params(track: TrackConfig, name: str) -> dict[str, Any]:
    for ref in track.all_task_refs():
        if ref.task == name:
            return dict(ref.params)
    return {}


def eval_tasks(track: TrackConfig) -> list[tuple[Task, str]]:
    """(task, role) for every evaluated task, domain first."""
    return [(load_task(r), "domain") for r in track.domain.tasks] + [(load_task(r), "general") for r in track.general]


def test_items(track: TrackConfig, task: Task) -> list[Example]:
    return task.split("test", track.eval.n_test, track.eval.seed)


def test_prompts(track: TrackConfig, name: str) -> frozenset[str]:
    for task, _ in eval_tasks(track):
        if task.name == name:
            return frozenset(ex.prompt for ex in test_items(track, task))
    return frozenset()


def domain_train_examples(track: TrackConfig, n: int | None = None) -> list[Example]:
    spec = track.domain.train
    task = load_task(TaskRef(task=spec.task, params={**track_params(track, spec.task), **spec.params}))
    return task.split("train", spec.n if n is None else n, spec.seed, exclude=test_prompts(track, spec.task))


def pretrain_examples(track: TrackConfig) -> list[Example]:
    """The pretraining corpus: each mixture task in proportion to its weight, shuffled with the recipe seed."""
    recipe = track.base_model.pretrain
    total = sum(recipe.mixture.values())
    out: list[Example] = []
    for name, weight in sorted(recipe.mixture.items()):
        params = {**track_params(track, name), **recipe.task_params.get(name, {})}
        task = load_task(TaskRef(task=name, params=params))
        n = round(recipe.n_examples * weight / total)
        out += task.split("pretrain", n, recipe.seed, exclude=test_prompts(track, name), distinct=False)
    random.Random(recipe.seed).shuffle(out)
    return out


def to_dataset(examples: list[Example]) -> Dataset:
    """Conversational prompt/completion rows: TRL applies the chat template and masks the prompt."""
    return Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": ex.prompt}],
                "completion": [{"role": "assistant", "content": ex.completion}],
            }
            for ex in examples
        ]
    )
