"""Submission files: read, checked against the method they name, and expanded into one submission per sweep point.

The shape of a submission is `harness.schemas.SubmissionConfig`. The checks here need the method's
light config class, which they get by name from the methods registry (`config_class`, `method_spec`;
no method implementation, and so no torch, is imported):

- no track-fixed field is set (budget, evaluation, seeds, ...), at the top level or among the
  hyperparameters, unless the method itself has a hyperparameter of that name (GRPO's rollout
  `temperature`);
- the method exists;
- a data recipe is given only to a method that trains on SFT data;
- every sweep point's hyperparameters validate against the method's config class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ConfigError, ConfigErrors
from harness.model_folders import check_recipe_models
from harness.methods import config_class, method_names, method_spec, unknown_method_message
from harness.schemas import TRACK_FIXED_FIELDS, DataRecipeConfig, SubmissionConfig
from harness.sweep import expand, list_typed
from harness.validation import parse_model
from harness.config_files import located
from harness.yaml_loader import read_yaml_located


def load_submission(path: str | Path) -> SubmissionConfig:
    """Read and validate a submission that sweeps nothing (see `load_submissions` for sweeps)."""
    subs = load_submissions(path)
    if len(subs) != 1:
        raise ConfigError(path, "hyperparameters", f"this submission sweeps {len(subs)} values; use load_submissions")
    return subs[0]


def load_submissions(path: str | Path, overrides: dict[str, Any] | None = None) -> list[SubmissionConfig]:
    """Read a submission, expand its sweeps (lists of values), and validate each resulting submission.

    `overrides` (`harness run --set KEY=VALUE`) replace hyperparameters of the file; see `apply_overrides`."""
    data, lines = read_yaml_located(Path(path))
    if overrides:  # `--set` errors name "--set" and the key, not a line of the file
        data = located(lambda: apply_overrides(data, overrides, path), path, lines)
    return located(lambda: parse_submissions(data, path), path, lines)


def parse_submissions(data: dict[str, Any], path: str | Path) -> list[SubmissionConfig]:
    """The submissions `data` (a submission file's fields) stands for: one, or one per sweep point."""
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
    expanded = expand(sub, hyper)
    for one in expanded:
        hyper.parse(one.hyperparameters, path)
    return expanded


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The submission `data` with `overrides` in its hyperparameters, named like a sweep point
    (`sft[learning_rate=0.0003]`) so it gets its own run folder and leaderboard row.

    Each key must be a field of the method's config class and each value (or each value of a list: a sweep)
    of its type; otherwise the errors name `--set KEY` and the method's allowed fields."""
    from pydantic import ValidationError

    method = data.get("method")
    if not isinstance(method, str) or method not in method_names():
        return data  # parse_submissions reports the method
    cls = config_class(method)
    allowed = ", ".join(sorted(cls.model_fields)) or "none (this method takes no hyperparameters)"
    problems = []
    for key, value in overrides.items():
        if key not in cls.model_fields:
            problems.append(ConfigError("--set", key, f"method {method!r} has no hyperparameter {key!r}. "
                                        f"Allowed: {allowed}"))
            continue
        values = value if isinstance(value, list) and not list_typed(cls, key) else [value]
        for one in values:
            try:
                cls.model_validate({key: one})
            except ValidationError as e:
                mine = [err["msg"] for err in e.errors() if err["loc"][:1] == (key,)]
                if mine:
                    problems.append(ConfigError("--set", key, f"{one!r}: {'; '.join(mine)} (method {method!r}; "
                                                f"allowed fields: {allowed})"))
    if problems:
        raise ConfigErrors(problems)
    label = ",".join(f"{k}={_label(v)}" for k, v in overrides.items())
    hyper = data.get("hyperparameters") if isinstance(data.get("hyperparameters"), dict) else {}
    return {**data, "name": f"{data.get('name')}[{label}]", "hyperparameters": {**hyper, **overrides},
            "description": f"{data.get('description') or ''} (--set {label})".strip()}


def _label(value: Any) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` strings -> {key: value}; a value reads as JSON (numbers, true/false, lists) or YAML
    (`[a, b]`), else stays a string. A later --set of the same key wins."""
    import json

    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--set", item, "expected KEY=VALUE, e.g. --set learning_rate=3e-4")
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = yaml.safe_load(text) if text.strip() else text
            except yaml.YAMLError:
                value = text
            if isinstance(value, (dict, type(None))) and text.strip() not in ("null", "~"):
                value = text
        out[key.strip()] = value
    return out


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
