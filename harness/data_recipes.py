"""SFT data recipes: where an SFT-family submission's training completions come from, and how many.

Source (`data.recipe`): `gold` demonstrations (the track's default), `self` rollouts of the base
model, rollouts of another saved `model` (e.g. a GRPO run saved with `harness run --save-model`), or
a `mix` of sources by prompt share (Mix-k: (11-2k) x 10% of the prompts from the first source,
(2k-1) x 10% from the second).

Scale (`data.match`, after "RL generalizes, SFT memorizes" revisited): without `match`, every domain
training prompt with one correct sample. With `match` the data follows a sampling run's per-prompt
rollout tallies (its rollouts.json):
- prompts:          one correct sample for every prompt the run sampled;
- solvable_prompts: one correct sample for every prompt with >= 1 correct rollout in the run;
- correct_rollouts: for every prompt, as many correct samples as the run had correct rollouts;
- total_rollouts:   that plus as many wrong samples as the run had wrong rollouts.
Self/model samples are drawn through the metered sampler (they count against the run's budget) in
passes of `samples_per_prompt` per prompt, repeated for the prompts still short of their quota of
correct (and wrong) samples until `max_samples_per_prompt` draws; the summary records what was wanted
and what was got. Gold has one (correct) sample per prompt, repeated
when more are wanted, and no wrong ones.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetExceeded
from harness.model_folders import model_folder, source_field
from harness.models import load_submission_model
from harness.rollouts import load_tallies, prompt_key
from harness.runs import run_dir
from harness.sampler import MeteredSampler
from harness.schemas import DataMatchConfig, DataRecipeConfig, DataSourceConfig
from harness.tasks import Example, Task
from harness.track_data import conversation


@dataclass(frozen=True)
class Want:
    example: Example
    correct: int
    wrong: int = 0


@dataclass(frozen=True)
class RecipeContext:
    """What building the data may use: the track's training examples, the base model, the metered sampler."""

    task: Task
    examples: tuple[Example, ...]
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    sampler: MeteredSampler
    max_new_tokens: int
    track: str
    seed: int
    runs_dir: Path


def plan(recipe: DataRecipeConfig, ctx: RecipeContext) -> tuple[list[Want], dict[str, Any] | None]:
    """What each prompt should contribute; the second value describes the matched run."""
    if recipe.match is None:
        return [Want(ex, 1) for ex in ctx.examples], None
    path = resolve_run(recipe.match, ctx)
    tallies = load_tallies(path)
    by_prompt = {prompt_key(ex.prompt): ex for ex in ctx.examples}
    unknown = [p for p in tallies if p not in by_prompt]
    if unknown:
        raise ValueError(f"{len(unknown)} prompts of {path} are not training prompts of track {ctx.track!r} (e.g. {unknown[0]!r})")
    wants = []
    for ex in ctx.examples:  # the track's order, so the plan does not depend on the file's
        t = tallies.get(prompt_key(ex.prompt))
        if t is None:
            continue
        by = recipe.match.by
        if by == "prompts":
            wants.append(Want(ex, 1))
        elif t.correct == 0:
            if by == "total_rollouts":
                wants.append(Want(ex, 0, t.rollouts))
        elif by == "solvable_prompts":
            wants.append(Want(ex, 1))
        elif by == "correct_rollouts":
            wants.append(Want(ex, t.correct))
        else:
            wants.append(Want(ex, t.correct, t.rollouts - t.correct))
    matched = {
        "run": str(path), "by": recipe.match.by, "prompts": len(tallies),
        "solvable_prompts": sum(t.correct > 0 for t in tallies.values()),
        "rollouts": sum(t.rollouts for t in tallies.values()), "correct_rollouts": sum(t.correct for t in tallies.values()),
    }
    return wants, matched


def split_by_share(wants: list[Want], sources: list[DataSourceConfig], seed: int) -> list[list[Want]]:
    """Assign prompts to sources in proportion to their shares (a seeded shuffle, then consecutive blocks)."""
    order = list(range(len(wants)))
    random.Random(f"data-recipe:{seed}").shuffle(order)
    bounds, acc = [], 0.0
    for src in sources:
        acc += src.share or 0.0
        bounds.append(round(acc * len(wants)))
    bounds[-1] = len(wants)
    parts, start = [], 0
    for end in bounds:
        parts.append(sorted(order[start:end]))
        start = end
    return [[wants[i] for i in idx] for idx in parts]


def build_sft_data(recipe: DataRecipeConfig, ctx: RecipeContext) -> tuple[Dataset, dict[str, Any]]:
    """The SFT dataset of a recipe and a summary for config.json / metrics.json ("data_recipe")."""
    wants, matched = plan(recipe, ctx)
    sources = recipe.sources()
    rows: list[tuple[Example, str]] = []
    per_source = []
    for src, part in zip(sources, split_by_share(wants, sources, ctx.seed), strict=True):
        got, stats = _collect(src, part, recipe, ctx)
        rows += got
        per_source.append({
            "source": src.source, "model": _model_label(src, ctx), "share": src.share, "prompts": len(part),
            "wanted_correct": sum(w.correct for w in part), "wanted_wrong": sum(w.wrong for w in part), **stats,
        })
    summary = {
        "recipe": recipe.model_dump(),
        "match": matched,
        "sources": per_source,
        "examples": len(rows),
        "prompts": len({prompt_key(ex.prompt) for ex, _ in rows}),
    }
    return sft_dataset(rows), summary


def sft_dataset(pairs: list[tuple[Example, str]]) -> Dataset:
    """Prompt/completion conversations from (example, completion text): sampled or gold SFT data."""
    return Dataset.from_list([conversation(replace(ex, completion=text)) for ex, text in pairs])


def _collect(src: DataSourceConfig, part: list[Want], recipe: DataRecipeConfig, ctx: RecipeContext):
    if src.source == "gold":
        if any(w.wrong for w in part):
            raise ValueError("gold demonstrations hold no wrong samples: match by total_rollouts needs a self or model source")
        rows = [(w.example, w.example.completion) for w in part for _ in range(w.correct)]
        return rows, {"correct": len(rows), "wrong": 0, "rollouts": 0}
    model, tokenizer = (ctx.model, ctx.tokenizer) if src.source == "self" else load_model(src, recipe, ctx)
    good: dict[int, list[str]] = defaultdict(list)
    bad: dict[int, list[str]] = defaultdict(list)
    drawn = [0] * len(part)
    rollouts = 0
    while True:
        short = [i for i, w in enumerate(part)
                 if (len(good[i]) < w.correct or len(bad[i]) < w.wrong) and drawn[i] < recipe.max_samples_per_prompt]
        if not short:
            break
        k = min(recipe.samples_per_prompt, recipe.max_samples_per_prompt)
        try:
            sampled = ctx.sampler.sample(
                model, [part[i].example.prompt for i in short], k=k, temperature=recipe.temperature,
                max_new_tokens=ctx.max_new_tokens, tokenizer=tokenizer,
            )
        except BudgetExceeded:
            break
        drawn_now = [(i, c.text) for i, row in zip(short, sampled) for c in row]
        grades = ctx.task.grade_batch([t for _, t in drawn_now], [part[i].example for i, _ in drawn_now])
        for (i, text), grade in zip(drawn_now, grades, strict=True):
            drawn[i] += 1
            rollouts += 1
            (good if grade.correct else bad)[i].append(text)
        if len(sampled) < len(short):  # a generation cap cut the pass short
            break
    rows = []
    correct = wrong = 0
    for i, w in enumerate(part):
        ok, no = good[i][: w.correct], bad[i][: w.wrong]
        rows += [(w.example, t) for t in ok] + [(w.example, t) for t in no]
        correct += len(ok)
        wrong += len(no)
    return rows, {"correct": correct, "wrong": wrong, "rollouts": rollouts}


def resolve_run(match: DataMatchConfig, ctx: RecipeContext) -> Path:
    if match.run is not None:
        return Path(match.run)
    return run_dir(ctx.runs_dir, ctx.track, match.submission, ctx.seed)


def resolve_model(src: DataSourceConfig, ctx: RecipeContext) -> Path:
    """A model directory: the path itself, or the `model/` folder of a run saved with --save-model."""
    path = Path(src.model) if src.model is not None else run_dir(ctx.runs_dir, ctx.track, src.submission, ctx.seed)
    folder = model_folder(path)
    if folder is not None:
        return folder
    raise FileNotFoundError(f"no saved model at {path} (nor {path / 'model'}); save one with `harness run --save-model`")


def _model_label(src: DataSourceConfig, ctx: RecipeContext) -> str | None:
    return str(resolve_model(src, ctx)) if src.source == "model" else None


def load_model(src: DataSourceConfig, recipe: DataRecipeConfig, ctx: RecipeContext
               ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model source's sampler: refused unless code-free, then loaded in the dtype and on the device of the base model
    (see harness.models.load_submission_model)."""
    return load_submission_model(resolve_model(src, ctx), like=ctx.model, field=source_field(recipe, src))
