"""Submission files: read, checked against the method they name, and expanded into one submission per sweep point.

The shape of a submission is `harness.schemas.SubmissionConfig`. The checks here need the method's
light config class, which they get by name from the methods registry (`config_class`, `method_spec`;
no method implementation, and so no torch, is imported):

- no track-fixed field is set (budget, evaluation, seeds, ...), at the top level or among the
  hyperparameters, unless the method itself has a hyperparameter of that name (GRPO's rollout
  `temperature`);
- the method exists;
- a data recipe is given only to a method that trains on SFT data;
- a sweep lists no empty and no repeated values, and (given the track) stays within its trial limit
  and needs a track with a validation set; all before the product is built (harness/sweep.py);
- every trial's hyperparameters validate against the method's config class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ConfigError, ConfigErrors
from harness.model_folders import check_recipe_models
from harness.methods import config_class, method_names, method_spec, unknown_method_message
from harness.schemas import TRACK_FIXED_FIELDS, DataRecipeConfig, SubmissionConfig, TrackConfig
from harness.sweep import Trial, check_sweep, expand
from harness.validation import parse_model
from harness.config_files import located
from harness.yaml_loader import read_yaml_located


def load_submission(path: str | Path) -> SubmissionConfig:
    """Read and validate a submission that sweeps nothing (see `load_submissions` for sweeps)."""
    subs = load_submissions(path)
    if len(subs) != 1:
        raise ConfigError(path, "hyperparameters", f"this submission sweeps {len(subs)} values; use load_submissions")
    return subs[0]


def load_submissions(path: str | Path, track: TrackConfig | None = None) -> list[SubmissionConfig]:
    """Read a submission and validate each of its trials; their submissions (all named as the entry)."""
    return [t.submission for t in load_trials(path, track)]


def load_trials(path: str | Path, track: TrackConfig | None = None) -> list[Trial]:
    """Read a submission, check its sweep (against the track's limits when given), expand it into trials
    (lists of values; a plain submission is one trial), and validate each trial's hyperparameters."""
    data, lines = read_yaml_located(Path(path))
    return located(lambda: parse_trials(data, path, track), path, lines)


def parse_submissions(data: dict[str, Any], path: str | Path, track: TrackConfig | None = None) -> list[SubmissionConfig]:
    """The trials' submissions `data` (a submission file's fields) stands for: one, or one per sweep trial."""
    return [t.submission for t in parse_trials(data, path, track)]


def parse_trials(data: dict[str, Any], path: str | Path, track: TrackConfig | None = None) -> list[Trial]:
    """The trials `data` (a submission file's fields) stands for: one, or one per combination of swept values."""
    _check_track_fixed_fields(data, path)
    sub = parse_model(SubmissionConfig, data, path)
    check_recipe_models(sub.data, path)  # model folders the recipe names: present, code-free, safetensors
    if sub.method not in method_names():
        raise ConfigError(path, "method", unknown_method_message(sub.method))
    spec = method_spec(sub.method)
    if sub.data != DataRecipeConfig() and not (spec.trains and spec.uses_sft_data):
        raise ConfigError(path, "data", f"method {sub.method!r} does not train on SFT data, so a data recipe does not "
                          "apply; remove the `data:` block (SFT-family methods: sft, dft, talr, ...)")
    hyper = config_class(sub.method)
    check_sweep(sub, hyper, path, track)  # before the product is built
    expanded = expand(sub, hyper)
    for one in expanded:
        hyper.parse(one.submission.hyperparameters, path)
    return expanded


def _check_track_fixed_fields(data: dict[str, Any], path: str | Path) -> None:
    """Every field of `data` (top level or hyperparameters) the track fixes, reported together."""
    # A method's own hyperparameter may share a name with a track setting (GRPO's rollout `temperature`).
    method = data.get("method")
    own = set(config_class(method).model_fields) if isinstance(method, str) and method in method_names() else set()
    hyper = data.get("hyperparameters")
    problems = []
    for key in list(data) + (list(hyper) if isinstance(hyper, dict) else []):
        if key in TRACK_FIXED_FIELDS and not (key not in data and key in own):
            where = key if key in data else f"hyperparameters.{key}"
            problems.append(
                ConfigError(path, where, f"{TRACK_FIXED_FIELDS[key]} is fixed by the track; a submission cannot set it. "
                            "Remove this field (see the track file under tasks/tracks/).")
            )
    if problems:
        raise ConfigErrors(problems)
