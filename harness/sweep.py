"""Sweeps: a submission whose hyperparameters hold lists is one leaderboard entry with one trial per combination.

`learning_rate: [1.0e-4, 1.0e-3]` gives two trials of the entry `sft`, labelled `learning_rate=0.0001` and
`learning_rate=0.001`. Each trial is trained and evaluated as its own run (the track's budget applies to
each separately, over the track's seeds) and scored on the track's validation items as well as its test
items; the scorer chooses the trial with the best validation score and ranks only that trial's test
scores (harness/scoring.py). A plain submission is a sweep of one trial (label None). A method field
that is itself list-typed (e.g. WiSE-FT's `alphas`) is a value, not a sweep.

Checked before any work (`check_sweep`): no swept list is empty, no list repeats a value, and the
number of trials (the product of the list lengths, computed without building the product) is within
the track's `selection.max_trials`; a sweep of more than one trial needs a track with a validation set.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.errors import ConfigError
from harness.schemas import SubmissionConfig, TrackConfig


@dataclass(frozen=True)
class Trial:
    """One trial of an entry: the submission with this trial's values filled in (its name is the entry's)."""

    submission: SubmissionConfig
    index: int = 0
    """0-based position in the product, in file order (ties in validation score go to the lower index)."""
    count: int = 1
    """Trials in the sweep."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Swept field -> this trial's value; empty for a plain submission."""

    @property
    def label(self) -> str | None:
        """"learning_rate=0.001,warmup_steps=5", or None for a plain submission (no swept field)."""
        return ",".join(f"{k}={_fmt(v)}" for k, v in self.values.items()) or None

    @property
    def name(self) -> str:
        return self.submission.name

    def record_fields(self, select_by: str) -> dict[str, Any] | None:
        """metrics.json `trial` (harness.record.Trial), None for a plain submission."""
        if self.label is None:
            return None
        return {"label": self.label, "index": self.index, "count": self.count, "values": dict(self.values),
                "select_by": select_by}


def list_typed(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    if info is None:
        return False
    ann = info.annotation
    candidates = [ann, *typing.get_args(ann)]
    return any(typing.get_origin(a) in (list, tuple) or a in (list, tuple) for a in candidates)


def swept_fields(submission: SubmissionConfig, config_class: type[BaseModel]) -> list[str]:
    return [
        k for k, v in submission.hyperparameters.items()
        if isinstance(v, list) and not list_typed(config_class, k)
    ]


def n_trials(submission: SubmissionConfig, config_class: type[BaseModel]) -> int:
    """The number of trials, without building the product."""
    return math.prod(len(submission.hyperparameters[k]) for k in swept_fields(submission, config_class))


def check_sweep(submission: SubmissionConfig, config_class: type[BaseModel], path: str | Path,
                track: TrackConfig | None = None) -> None:
    """Refuse empty swept lists and repeated values (any track), and, given the track, more trials than its
    `selection.max_trials` or a sweep on a track without a validation set. Nothing is expanded."""
    for k in swept_fields(submission, config_class):
        values = submission.hyperparameters[k]
        if not values:
            raise ConfigError(path, f"hyperparameters.{k}", "an empty list sweeps nothing; give at least one value "
                              "(or a single value without brackets)")
        seen: list[Any] = []
        for v in values:
            if any(v == s and isinstance(v, bool) == isinstance(s, bool) for s in seen):
                raise ConfigError(path, f"hyperparameters.{k}", f"the value {v!r} is listed twice; every trial of a "
                                  "sweep must differ (remove the repeat)")
            seen.append(v)
    if track is None:
        return
    count = n_trials(submission, config_class)
    if count > track.selection.max_trials:
        raise ConfigError(path, "hyperparameters", f"this sweep has {count} trials "
                          f"({' x '.join(str(len(submission.hyperparameters[k])) for k in swept_fields(submission, config_class))}); "
                          f"track {track.name!r} allows at most {track.selection.max_trials} (selection.max_trials). "
                          "Sweep fewer values")
    if count > 1 and not track.has_validation:
        raise ConfigError(path, "hyperparameters", f"this sweep has {count} trials, but {track.no_validation_reason()}; "
                          "a sweep is chosen on validation, so it is refused here. Give single values")


def expand(submission: SubmissionConfig, config_class: type[BaseModel]) -> list[Trial]:
    """One trial per combination of the swept values (in file order); a plain submission is one trial."""
    keys = swept_fields(submission, config_class)
    if not keys:
        return [Trial(submission)]
    combos = list(itertools.product(*(submission.hyperparameters[k] for k in keys)))
    out = []
    for i, values in enumerate(combos):
        chosen = dict(zip(keys, values, strict=True))
        hp: dict[str, Any] = {**submission.hyperparameters, **chosen}
        out.append(Trial(submission.model_copy(update={"hyperparameters": hp}), i, len(combos), chosen))
    return out


def _fmt(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)
