"""The data a track fixes: test items per task, validation items, the domain training set, and the pretraining mixture.

Test items come first and are excluded from every training set, so no run can train on a test prompt.
Validation items (tracks with `validation: {n: N}`) come next: split "validation" from the track's eval
seed, excluding the test prompts and the domain training prompts; the domain training data then excludes
them too. Because validation never holds a prompt the default training draw takes, that draw is the same
example for example as before validation existed (a prompt the training stream meets that is in the
validation set was rejected there anyway), so no training data and no number changes.
`check_disjoint` states the guarantee and is run by the tests for every shipped track.
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


def validation_items(track: TrackConfig, task: Task) -> list[Example]:
    """A task's validation items: split "validation" from the eval seed, disjoint from its test items and,
    for the domain training task, from the default training draw. Refused on a track without validation."""
    if not track.has_validation:
        raise ValueError(f"{track.no_validation_reason()}; selection needs one")
    if task.config.kind != "synthetic":
        raise ValueError(f"track {track.name!r}: task {task.name!r} is a benchmark; validation items are drawn only "
                         "for synthetic tasks here (give the track `validation: {none: REASON}`)")
    exclude = test_prompts(track, task.name)
    if task.name == track.domain.train.task:
        exclude |= {ex.prompt for ex in _train_draw(track, track.domain.train.n, exclude=test_prompts(track, task.name))}
    return task.split("validation", track.validation.n, track.eval.seed, exclude=exclude)


def validation_prompts(track: TrackConfig, name: str) -> frozenset[str]:
    """Validation prompts of a synthetic task (empty on a track without validation), kept out of training data."""
    if not track.has_validation:
        return frozenset()
    for task, _ in eval_tasks(track):
        if task.name == name and task.config.kind == "synthetic":
            return frozenset(ex.prompt for ex in validation_items(track, task))
    return frozenset()


def check_disjoint(track: TrackConfig) -> None:
    """Raise ValueError unless, for every evaluated task, test, validation and domain training prompts are
    pairwise disjoint (synthetic tasks; benchmarks keep their files apart)."""
    train = {ex.prompt for ex in domain_train_examples(track)}
    for task, _ in eval_tasks(track):
        if task.config.kind != "synthetic":
            continue
        test = {ex.prompt for ex in test_items(track, task)}
        val = {ex.prompt for ex in validation_items(track, task)} if track.has_validation else set()
        same = task.name == track.domain.train.task
        for a, b, what in ((test, val, "test and validation"), (test, train if same else set(), "test and training"),
                           (val, train if same else set(), "validation and training")):
            if a & b:
                raise ValueError(f"track {track.name!r}, task {task.name!r}: {len(a & b)} prompts are in both {what} "
                                 f"items, e.g. {sorted(a & b)[0]!r}")


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
    """The domain training data: none of its prompts is a test or validation prompt."""
    spec = track.domain.train
    exclude = test_prompts(track, spec.task) | validation_prompts(track, spec.task)
    return _train_draw(track, spec.n if n is None else n, exclude)


def _train_draw(track: TrackConfig, n: int, exclude: frozenset[str]) -> list[Example]:
    spec = track.domain.train
    return domain_train_task(track).split("train", n, spec.seed, exclude=exclude)


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
