"""Submission files (submissions/**/<name>.yaml): a method, its hyperparameters and a data recipe.

These models check a submission's own shape. Checks that need the method's config class (its
hyperparameters, sweeps, whether a data recipe applies) live above the methods, in
`harness.submissions`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.schemas.base import Strict
from harness.schemas.names import NAME_RULE, RESERVED_BASE, Name

TRACK_FIXED_FIELDS = {  # a field a submission may not set -> what the track fixes there
    "budget": "the budget",
    "eval": "evaluation settings",
    "evaluation": "evaluation settings",
    "seeds": "the seeds",
    "base_model": "the base model",
    "domain": "the domain tasks and training data",
    "general": "the general tasks",
    "general_suite": "the general benchmarks (lm-eval suite)",
    "training": "the training settings",
    "max_length": "the training sequence length (track.training.max_length)",
    "gradient_tokens": "the budget",
    "optimizer_steps": "the budget",
    "train_flops": "the budget",
    "generated_tokens": "the budget",
    "rollouts": "the budget",
    "generation_flops": "the budget",
    "n_test": "evaluation settings",
    "k": "evaluation settings",
    "temperature": "evaluation settings",
    "max_new_tokens": "evaluation settings",
}


DataSourceKind = Literal["gold", "self", "model"]
MatchBy = Literal["prompts", "solvable_prompts", "correct_rollouts", "total_rollouts"]


class DataSourceConfig(Strict):
    """One source of SFT completions for the track's domain prompts."""

    source: DataSourceKind = "gold"
    """gold: the track's demonstrations; self: rollouts of the base model; model: rollouts of a saved model."""
    model: str | None = None
    """source "model": a saved HF model directory, or a run directory written by `harness run --save-model`."""
    submission: str | None = None
    """source "model", instead of `model`: the run of this submission on the same track, seed and runs dir."""
    share: float | None = Field(None, gt=0, le=1)
    """In a mixture: the share of prompts this source answers (shares sum to 1; or use `mix_k`)."""

    @model_validator(mode="after")
    def _model_named_once(self):
        named = (self.model is not None) + (self.submission is not None)
        if self.source == "model" and named != 1:
            raise ValueError("source 'model' needs exactly one of `model` (a path) or `submission` (a run name)")
        if self.source != "model" and named:
            raise ValueError(f"`model`/`submission` apply to source 'model' only, not {self.source!r}")
        return self


class DataMatchConfig(Strict):
    """Scale the SFT data to a sampling run's ledger (the rollouts.json of e.g. a GRPO run)."""

    by: MatchBy
    """prompts: one correct sample per prompt the run saw; solvable_prompts: the same for prompts with >= 1 correct
    rollout; correct_rollouts: as many correct samples per prompt as the run had; total_rollouts: that plus as many
    wrong samples as the run's wrong rollouts."""
    run: str | None = None
    """A run directory (holding rollouts.json)."""
    submission: str | None = None
    """Instead of `run`: the run of this submission on the same track, seed and runs dir."""

    @model_validator(mode="after")
    def _run_named_once(self):
        if (self.run is not None) + (self.submission is not None) != 1:
            raise ValueError("match needs exactly one of `run` (a path) or `submission` (a run name)")
        return self


class DataRecipeConfig(Strict):
    """Where a submission's SFT data comes from and how much of it (the `data:` block). Default: gold demos."""

    recipe: Literal["gold", "self", "model", "mix"] = "gold"
    model: str | None = None
    """recipe "model": a saved HF model directory or a run directory saved with --save-model."""
    submission: str | None = None
    """recipe "model", instead of `model`: the run of this submission on the same track, seed and runs dir."""
    mix: list[DataSourceConfig] = Field(default_factory=list)
    """recipe "mix": two or more sources, each with a `share`, or exactly two without shares plus `mix_k`."""
    mix_k: int | None = Field(None, ge=1, le=5)
    """Mix-k: (11-2k) x 10% of the prompts from the first source, (2k-1) x 10% from the second."""
    match: DataMatchConfig | None = None
    """Scale matched to a sampling run; None: every domain training prompt, one sample each."""
    samples_per_prompt: int = Field(8, ge=1, le=100000)
    """Rollouts drawn per prompt and pass when rejection-sampling self/model data."""
    max_samples_per_prompt: int = Field(64, ge=1, le=100000)
    """Passes repeat for prompts short of their quota of correct (and wrong) samples up to this many draws."""
    temperature: float = Field(1.0, gt=0, le=100)
    """Sampling temperature of self/model rollouts, in (0, 100]."""

    @model_validator(mode="after")
    def _consistent(self):
        if self.recipe == "model":
            DataSourceConfig(source="model", model=self.model, submission=self.submission)
        elif self.model is not None or self.submission is not None:
            raise ValueError("`model`/`submission` apply to recipe 'model' only (in a mixture, name them per source)")
        if self.recipe == "mix":
            if len(self.mix) < 2:
                raise ValueError("recipe 'mix' needs two or more sources under `mix`")
            shares = [m.share for m in self.mix]
            if self.mix_k is not None:
                if len(self.mix) != 2 or any(s is not None for s in shares):
                    raise ValueError("`mix_k` needs exactly two sources without `share`")
            elif any(s is None for s in shares) or abs(sum(shares) - 1) > 1e-6:
                raise ValueError(f"every source of a mixture needs a `share` and the shares must sum to 1 (got {shares})")
        elif self.mix or self.mix_k is not None:
            raise ValueError("`mix`/`mix_k` apply to recipe 'mix' only")
        return self

    def sources(self) -> list[DataSourceConfig]:
        """The recipe as (source, share) entries; a single source has share 1."""
        if self.recipe != "mix":
            return [DataSourceConfig(source=self.recipe, model=self.model, submission=self.submission, share=1.0)]
        if self.mix_k is None:
            return list(self.mix)
        first, second = (11 - 2 * self.mix_k) / 10, (2 * self.mix_k - 1) / 10
        return [self.mix[0].model_copy(update={"share": first}), self.mix[1].model_copy(update={"share": second})]


class SubmissionConfig(Strict):
    """submissions/**/<name>.yaml: a method from the registry and its hyperparameters."""

    name: Name
    """The entry's name on the leaderboard and its run folder (see harness.schemas.names.NAME_RULE); `base` is
    reserved for method `base`."""
    method: str
    description: str = ""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    """Validated by the method's own config class (e.g. harness.methods.talr.TALRConfig)."""
    data: DataRecipeConfig = DataRecipeConfig()
    """Where the SFT data comes from (SFT-family methods only); see DataRecipeConfig."""

    @model_validator(mode="after")
    def _base_is_reserved(self):
        if self.name.lower() == RESERVED_BASE and self.method != RESERVED_BASE:
            raise ValueError(f"the name {RESERVED_BASE!r} is reserved for the track's reference entry (method "
                             f"{RESERVED_BASE!r}); give this {self.method!r} submission another name ({NAME_RULE})")
        return self
