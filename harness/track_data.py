"""The data a track fixes: test items per task, the domain training set, and the pretraining mixture.

Test items come first and are excluded from every training set, so no run can train on a test prompt.
"""

from __future__ import annotations

import random
from typing import Any

from datasets import Dataset

from harness.schemas import TaskRef, TrackConfig
from harness.tasks import Example, Task, load_task, prompt_messages


def track_params(track: TrackConfig, name: str) -> dict[str, Any]:
    for ref in track.all_task_refs():
        if ref.task == name:
            return dict(ref.params)
    return {}


def eval_tasks(track: TrackConfig) -> list[tuple[Task, str]]:
    """(task, role) for every evaluated task, domain first."""
    return [(load_task(r), "domain") for r in track.domain.tasks] + [(load_task(r), "general") for r in track.general]


def n_test(track: TrackConfig, name: str) -> int:
    """Test items of a task: its own n_test in the track if set, else the track's eval.n_test."""
    ref = next((r for r in track.all_task_refs() if r.task == name), None)
    return ref.n_test if ref is not None and ref.n_test else track.eval.n_test


def test_items(track: TrackConfig, task: Task) -> list[Example]:
    return task.split("test", n_test(track, task.name), track.eval.seed)


def test_prompts(track: TrackConfig, name: str) -> frozenset[str]:
    """Test prompts of a synthetic task, to keep them out of training data (benchmarks keep files apart)."""
    for task, _ in eval_tasks(track):
        if task.name == name and task.config.kind == "synthetic":
            return frozenset(ex.prompt for ex in test_items(track, task))
    return frozenset()


def domain_train_task(track: TrackConfig) -> Task:
    """The task behind the domain training data (its grader is the RL reward)."""
    spec = track.domain.train
    return load_task(TaskRef(task=spec.task, params={**track_params(track, spec.task), **spec.params}))


def domain_train_examples(track: TrackConfig, n: int | None = None) -> list[Example]:
    spec = track.domain.train
    task = domain_train_task(track)
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


def conversation(ex: Example) -> dict[str, list[dict[str, str]]]:
    """Prompt and completion messages. A prompt that ends in an assistant prefix (MedCalc, ESCI) hands the
    prefix to the completion, so training renders exactly the text evaluation continues from."""
    messages = prompt_messages(ex.prompt)
    prefix = messages.pop()["content"] if messages[-1]["role"] == "assistant" else ""
    return {"prompt": messages, "completion": [{"role": "assistant", "content": prefix + ex.completion}]}


def to_dataset(examples: list[Example]) -> Dataset:
    """Conversational prompt/completion rows: TRL applies the chat template and masks the prompt."""
    return Dataset.from_list([conversation(ex) for ex in examples])
