"""Study files (submissions/studies/<name>.yaml): submissions run together over one track and seeds.

The file format is described in `harness.study`, which loads and checks it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from harness.schemas.base import Strict
from harness.schemas.names import Name


class TrackVariant(Strict):
    """One variant of a study's track: the track with some of its fields set otherwise (harness.study)."""

    name: Name
    """Appended to the track's name (`TRACK.NAME`): the variant's runs folder, cached base model and leaderboard
    track; the whole name must follow NAME_RULE."""
    set: dict[str, Any] = Field(min_length=1)
    """Dotted paths into the track file -> new values, e.g. `base_model.pretrain.steps: 500` or
    `domain.train.params.cot_prob: 0.1` (list items by index: `domain.tasks.0.params.d`). Every path must name a
    field the track already has."""


class StudyConfig(Strict):
    """A study file."""

    name: Name
    """See harness.schemas.names.NAME_RULE."""
    description: str = ""
    track: str
    seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] | None = Field(None, min_length=1)
    """Seeds to run every submission with; None means the track's seeds."""
    curve_every: int | None = Field(None, ge=1)
    """Evaluate the domain tasks every N optimizer steps and keep the curve in the run."""
    submissions: list[str | dict[str, Any]]
    track_variants: list[TrackVariant] | None = Field(None, min_length=1)
    """Run every submission on each variant of the track instead of the track itself (e.g. a sweep of the long-chain
    share epsilon and of the pretraining steps). Each variant is a track of its own: its own base model (the
    pretraining recipe's cache key changes with it), runs folder and version; its `overrides` record what changed."""
