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
- every trial's hyperparameters validate against the method's config class;
- a data recipe's `match.run` is a run directory holding rollouts.json.

With the track known (`harness validate --track`, `harness run`, `harness study`), `check_for_track`
adds what needs it, before any directory is created: LoRA `target_modules` name modules the track's
model has (from its config alone: a tiny track's Llama sizes, or a local model folder's config.json;
no weights are read, no torch is imported).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json
import re

from harness.errors import ConfigError, ConfigErrors
from harness.model_folders import check_recipe_models
from harness.methods import config_class, method_names, method_spec, unknown_method_message
from harness.schemas import TRACK_FIXED_FIELDS, DataRecipeConfig, SubmissionConfig, TrackConfig
from harness.hashing import stable_hash
from harness.schemas.names import NAME_MAX, NAME_RULE, RESERVED_BASE
from harness.sweep import Trial, check_sweep, expand, list_typed
from harness.validation import parse_model
from harness.config_files import located
from harness.yaml_loader import read_yaml_located


def load_submission(path: str | Path) -> SubmissionConfig:
    """Read and validate a submission that sweeps nothing (see `load_submissions` for sweeps)."""
    subs = load_submissions(path)
    if len(subs) != 1:
        raise ConfigError(path, "hyperparameters", f"this submission sweeps {len(subs)} values; use load_submissions")
    return subs[0]


def load_submissions(path: str | Path, track: TrackConfig | None = None,
                     overrides: dict[str, Any] | None = None) -> list[SubmissionConfig]:
    """Read a submission and validate each of its trials; their submissions (all named as the entry)."""
    return [t.submission for t in load_trials(path, track, overrides)]


def load_trials(path: str | Path, track: TrackConfig | None = None,
                overrides: dict[str, Any] | None = None) -> list[Trial]:
    """Read a submission, check its sweep (against the track's limits when given), expand it into trials
    (lists of values; a plain submission is one trial), and validate each trial's hyperparameters.

    `overrides` (`harness run --set KEY=VALUE`) replace hyperparameters of the file; see `apply_overrides`."""
    data, lines = read_yaml_located(Path(path))
    if overrides:  # `--set` errors name "--set" and the key, not a line of the file
        data = located(lambda: apply_overrides(data, overrides, path), path, lines)
    return located(lambda: parse_trials(data, path, track), path, lines)


def parse_submissions(data: dict[str, Any], path: str | Path, track: TrackConfig | None = None) -> list[SubmissionConfig]:
    """The trials' submissions `data` (a submission file's fields) stands for: one, or one per sweep trial."""
    return [t.submission for t in parse_trials(data, path, track)]


def parse_trials(data: dict[str, Any], path: str | Path, track: TrackConfig | None = None) -> list[Trial]:
    """The trials `data` (a submission file's fields) stands for: one, or one per combination of swept values."""
    _check_track_fixed_fields(data, path)
    name = data.get("name")
    if isinstance(name, str) and name.lower() == RESERVED_BASE and data.get("method") != RESERVED_BASE:
        raise ConfigError(path, "name", f"{name!r}: the name {RESERVED_BASE!r} (in any letter case) is reserved for the track's reference entry (method "
                          f"{RESERVED_BASE!r}); give this submission another name ({NAME_RULE})")
    sub = parse_model(SubmissionConfig, data, path)
    check_recipe_models(sub.data, path)  # model folders the recipe names: present, code-free, safetensors
    _check_match_run(sub.data, path)
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


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The submission `data` with `overrides` in its hyperparameters, named `NAME.set-HASH` (a hash of the
    overrides; the values are in its description and config.json) so it gets its own run folder and row.

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
    # The name must keep the name rule (schemas/names.py): the values go into the description and config.json,
    # the name gets a short hash of them, so each distinct --set has its own folder and row.
    suffix = f".set-{stable_hash(overrides, 8)}"
    name = f"{str(data.get('name'))[:NAME_MAX - len(suffix)]}{suffix}"
    return {**data, "name": name, "hyperparameters": {**hyper, **overrides},
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


ROLLOUTS_FILE = "rollouts.json"
"""What a sampling run leaves for `data.match` (harness.rollouts.ROLLOUTS_FILE; not imported: it imports the tasks)."""


def _check_match_run(recipe: DataRecipeConfig, path: str | Path) -> None:
    """`data.match.run`, when given, is a run directory holding rollouts.json."""
    run = recipe.match.run if recipe.match is not None else None
    if run is None:
        return
    if not (Path(run) / ROLLOUTS_FILE).is_file():
        what = "does not exist" if not Path(run).exists() else f"holds no {ROLLOUTS_FILE}"
        raise ConfigError(path, "data.match.run", f"{run} {what}; name the directory of a finished sampling run "
                          "(e.g. runs/TRACK/grpo/seed0), or use `submission:` to name the run by its submission")


# ------------------------------------------------------------------------------------ checks against a track

LLAMA_LAYER = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
PHI3_LAYER = ("self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj")
LAYER_MODULES = {"llama": LLAMA_LAYER, "mistral": LLAMA_LAYER, "qwen2": LLAMA_LAYER, "qwen3": LLAMA_LAYER,
                 "gemma": LLAMA_LAYER, "gemma2": LLAMA_LAYER, "olmo2": LLAMA_LAYER, "phi3": PHI3_LAYER}
"""model_type -> the linear modules of one decoder layer (transformers' module names). Architectures outside this
table are not checked before the run; PEFT checks them when the adapter is built."""


def model_modules(track: TrackConfig) -> list[str] | None:
    """Every module LoRA can target in the track's model (full dotted names), from its config; None when the
    architecture is not known without loading the model (a hub id, a GGUF file, a model type outside LAYER_MODULES)."""
    cfg = track.base_model
    if cfg.kind == "tiny":
        model_type, layers = "llama", cfg.pretrain.model.num_hidden_layers
    elif cfg.kind == "hf" and cfg.path and (Path(cfg.path) / "config.json").is_file():
        try:
            config = json.loads((Path(cfg.path) / "config.json").read_text(encoding="utf-8"))
            model_type, layers = config.get("model_type"), int(config.get("num_hidden_layers"))
        except (OSError, ValueError, TypeError, AttributeError):
            return None
    else:
        return None
    if model_type not in LAYER_MODULES:
        return None
    per_layer = [f"model.layers.{i}.{m}" for i in range(layers) for m in LAYER_MODULES[model_type]]
    return ["model.embed_tokens", *per_layer, "lm_head"]


def _targets_problem(targets: str | list[str], modules: list[str]) -> str | None:
    """Why PEFT would find no module for `targets` (its matching rules: a list entry names a module or a dotted
    suffix of one; a string other than "all-linear" is a regular expression matched against full names)."""
    leaves = sorted({m.rsplit(".", 1)[-1] for m in modules})
    if isinstance(targets, str):
        if targets == "all-linear":
            return None
        try:
            pattern = re.compile(targets)
        except re.error as e:
            return f"{targets!r} is not a valid regular expression ({e})"
        if not any(pattern.fullmatch(m) for m in modules):
            return f"the pattern {targets!r} matches no module of the track's model. Its modules: {', '.join(leaves)}"
        return None
    if not targets:
        return "an empty list targets no module"
    missing = [t for t in targets if not any(m == t or m.endswith("." + t) for m in modules)]
    if missing:
        return (f"the track's model has no module {', '.join(repr(t) for t in missing)}. Its modules: "
                f"{', '.join(leaves)} (or \"all-linear\")")
    return None


def check_for_track(submissions: list[SubmissionConfig], track: TrackConfig, path: str | Path) -> None:
    """What a submission can only be checked for on a track, before any run directory is created: LoRA
    `target_modules` (the submission's value, else the track's default, else the method's) against the model."""
    modules = None
    problems = []
    for sub in submissions:
        hyper = config_class(sub.method)
        if "target_modules" not in hyper.model_fields:
            continue
        defaults = track.training.hyperparameters
        targets = sub.hyperparameters.get("target_modules", defaults.get("target_modules",
                                          hyper.model_fields["target_modules"].default))
        modules = modules if modules is not None else model_modules(track)
        if modules is None:
            return
        problem = _targets_problem(targets, modules)
        if problem:
            where = "hyperparameters.target_modules" if len(submissions) == 1 else f"{sub.name}: hyperparameters.target_modules"
            problems.append(ConfigError(path, where, f"{problem} (track {track.name})"))
    if problems:
        raise ConfigErrors(problems)
