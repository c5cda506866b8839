"""Study files (submissions/studies/<name>.yaml): submissions run together over one track and seeds.

The file format is described in `harness.study`, which loads and checks it (entry names in claims
included); a claim's verdict is computed by `harness.claims`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

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


CLAIM_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
PAPER_ID = r"^[0-9]{3}$"
METRIC_RULE = ("'domain', 'general', 'task:NAME' (one task's score) or 'curve:NAME' (a run's training-curve summary, "
               "e.g. curve:chain_lead; needs the study's curve_every)")
CLAIMED_RULE = "'OP NUMBER' with OP one of >, >=, <, <= (e.g. '> 0', '>= 0.9')"
_OPERATORS = (">=", "<=", ">", "<")  # two-character ones first


def parse_claimed(text: str) -> tuple[str, float]:
    """'>= 0.9' -> ('>=', 0.9); a ValueError that states CLAIMED_RULE otherwise."""
    stripped = text.strip()
    op = next((o for o in _OPERATORS if stripped.startswith(o)), None)
    number = stripped[len(op):].strip() if op else ""
    try:
        value = float(number) if number and "_" not in number else None
    except ValueError:
        value = None
    if op is None or value is None or value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a claimed side: write {CLAIMED_RULE}")
    return op, value


class ClaimQuantity(Strict):
    """What a claim measures: one entry's score, a difference of two entries' scores (`minus`), or their ratio
    (`over`); entries are the study's submission names (`NAME @ POINT` for one point of an entry with points)."""

    metric: str
    """'domain' or 'general' (the scorer's role means, 0-100) or 'task:NAME' for one task's score."""
    entry: str
    minus: str | None = None
    """Subtract this entry's score (paired over items; seeds resampled per entry)."""
    over: str | None = None
    """Divide by this entry's score (a bootstrap of the ratio)."""
    track: str | None = None
    """A study with track_variants: the variant track the entries are read on ('TRACK.VARIANT'); required there,
    and must be the study's track (or left out) otherwise."""

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        prefix, _, name = value.partition(":")
        if value in ("domain", "general") or (prefix in ("task", "curve") and name):
            return value
        raise ValueError(f"{value!r} is not a metric: use {METRIC_RULE}")

    @model_validator(mode="after")
    def _one_operation(self) -> ClaimQuantity:
        if self.minus is not None and self.over is not None:
            raise ValueError("give at most one of 'minus' (a difference) and 'over' (a ratio)")
        return self

    @property
    def kind(self) -> Literal["score", "difference", "ratio"]:
        return "difference" if self.minus is not None else "ratio" if self.over is not None else "score"

    def entries(self) -> dict[str, str]:
        """{field: entry name} of the entries this quantity reads."""
        named = {"entry": self.entry, "minus": self.minus, "over": self.over}
        return {k: v for k, v in named.items() if v is not None}

    def describe(self) -> str:
        """The quantity as a formula, e.g. 'general(talr) - general(sft)'."""
        def one(name: str) -> str:
            return f"{self.metric}({name})"
        if self.minus is not None:
            formula = f"{one(self.entry)} - {one(self.minus)}"
        elif self.over is not None:
            formula = f"{one(self.entry)} / {one(self.over)}"
        else:
            formula = one(self.entry)
        return formula if self.track is None else f"{formula} on {self.track}"


class Claim(Strict):
    """One of a paper's claims as a rule the study's runs decide (docs/studies.md)."""

    id: Annotated[str, Field(pattern=CLAIM_ID)]
    """Unique within the study: lower-case letters, digits and '-'."""
    paper: Annotated[str, Field(pattern=PAPER_ID)]
    """The paper's number in shared/seeds (000-004)."""
    statement: Annotated[str, Field(min_length=1)]
    """The claim in one sentence."""
    paper_result: Annotated[str, Field(min_length=1)]
    """The paper's own number, as text (table or figure, model, data)."""
    protocol: Annotated[str, Field(min_length=1)]
    """How this study differs from the paper's protocol (scale, model, data), in one sentence."""
    quantity: ClaimQuantity
    claimed: str
    """'OP NUMBER' with OP in >, >=, <, <=: the side of NUMBER the paper says the quantity is on."""

    @field_validator("claimed")
    @classmethod
    def _claimed(cls, value: str) -> str:
        parse_claimed(value)
        return value

    @property
    def side(self) -> tuple[str, float]:
        return parse_claimed(self.claimed)


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
    claims: list[Claim] | None = None
    """A paper's claims as rules over the study's entries; `harness study` prints and stores each verdict."""

    @field_validator("claims")
    @classmethod
    def _unique_ids(cls, claims: list[Claim] | None) -> list[Claim] | None:
        ids = [c.id for c in claims or []]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"claim ids must be unique in a study; repeated: {', '.join(repeated)}")
        return claims
