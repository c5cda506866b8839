"""Sweeps: a submission whose hyperparameters hold lists expands into one submission per combination.

`learning_rate: [1.0e-4, 1.0e-3]` gives two submissions named `sft[learning_rate=0.0001]` and
`sft[learning_rate=0.001]`: each its own run (the track's budget applies to each separately) and
its own leaderboard row labelled by the value. A method field that is itself list-typed (e.g.
WiSE-FT's `alphas`) is a value, not a sweep.
"""

from __future__ import annotations

import itertools
import typing
from typing import Any

from pydantic import BaseModel

from harness.schemas import SubmissionConfig


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


def expand(submission: SubmissionConfig, config_class: type[BaseModel]) -> list[SubmissionConfig]:
    """The submission itself when nothing is swept, else one submission per combination (in file order)."""
    keys = swept_fields(submission, config_class)
    if not keys:
        return [submission]
    out = []
    for values in itertools.product(*(submission.hyperparameters[k] for k in keys)):
        chosen = dict(zip(keys, values, strict=True))
        label = ",".join(f"{k}={_fmt(v)}" for k, v in chosen.items())
        hp: dict[str, Any] = {**submission.hyperparameters, **chosen}
        out.append(submission.model_copy(update={
            "name": f"{submission.name}[{label}]",
            "hyperparameters": hp,
            "description": f"{submission.description} ({label})".strip(),
        }))
    return out


def _fmt(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)
