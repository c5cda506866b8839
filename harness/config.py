"""Config models for tasks, tracks and submissions, and the loaders that turn YAML into them.

Flow: YAML -> `yaml.safe_load` -> pydantic model (extra="forbid", frozen) -> code. Every problem
becomes a `ConfigError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ConfigError, ConfigErrors

REPO_ROOT = Path(__file__).resolve().parents[1]


def tasks_dir() -> Path:
    """Where task and track YAML files live: $HARNESS_TASKS_DIR, else the repository's tasks/."""
    return Path(os.environ.get("HARNESS_TASKS_DIR", REPO_ROOT / "tasks"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------- tasks


class TaskConfig(Strict):
    """tasks/<name>.yaml: one synthetic skill with its generator and default parameters."""

    name: str
    description: str = ""
    version: int = 1
    """Bumped whenever data, prompt or grading change; recorded in every run."""
    kind: Literal["synthetic"] = "synthetic"
    generator: str
    """A name in harness.tasks.synthetic.GENERATORS."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the generator; a track may override them."""


class TaskRef(Strict):
    """A task as a track uses it: the name plus parameter overrides."""

    task: str
    params: dict[str, Any] = Field(default_factory=dict)


def _task_ref(value: Any) -> Any:
    return {"task": value} if isinstance(value, str) else value


# --------------------------------------------------------------------------------------------- tracks


class TinyModelConfig(Strict):
    """Llama architecture sizes of a tiny track's base model."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 128


class PretrainConfig(Strict):
    """The recipe that builds a tiny track's base model; its hash is the cache key."""

    model: TinyModelConfig = TinyModelConfig()
    mixture: dict[str, float]
    """Task name -> sampling weight in the pretraining corpus."""
    task_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-task parameter overrides for pretraining (e.g. the domain skill's rare-CoT probability)."""
    n_examples: int = 60000
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.0
    seed: int = 0


class BaseModelConfig(Strict):
    kind: Literal["tiny"] = "tiny"
    """"tiny": built from a config and pretrained by the harness."""
    pretrain: PretrainConfig


class DomainTrainConfig(Strict):
    """The domain training source every submission of the track gets."""

    task: str
    n: int = 2000
    """Number of training examples (disjoint from the test items)."""
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0


class DomainConfig(Strict):
    tasks: list[TaskRef]
    train: DomainTrainConfig

    _refs = field_validator("tasks", mode="before")(lambda v: [_task_ref(x) for x in v])


class EvalConfig(Strict):
    """Evaluation settings shared by every submission of the track."""

    n_test: int = 200
    """Test items per task."""
    k: int = 1
    """Samples per test item (avg@k and pass@k)."""
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    max_new_tokens: int = 48
    batch_size: int = 256
    seed: int = 1234
    """Fixes the test items and the sampling noise, so every run sees the same items."""


class BudgetConfig(Strict):
    """Caps metered by the harness; None means uncapped. A run that exceeds one is invalid."""

    gradient_tokens: int | None = None
    """Supervised target tokens that receive a gradient."""
    optimizer_steps: int | None = None
    train_flops: float | None = None
    """Estimated as 6 x parameters x gradient tokens."""


class TrainingDefaults(Strict):
    """Settings fixed by the track so that methods compare on equal footing."""

    max_length: int = 128
    """Token limit of a training sequence."""


class TrackConfig(Strict):
    """tasks/tracks/<name>.yaml: the fixed playing field every submission shares."""

    name: str
    description: str = ""
    base_model: BaseModelConfig
    domain: DomainConfig
    general: list[TaskRef]
    eval: EvalConfig = EvalConfig()
    budget: BudgetConfig = BudgetConfig()
    training: TrainingDefaults = TrainingDefaults()
    seeds: list[int] = Field(default_factory=lambda: [0])

    _refs = field_validator("general", mode="before")(lambda v: [_task_ref(x) for x in v])

    @property
    def version(self) -> str:
        """Hash of the resolved track and the versions of its tasks: runs under another version are not ranked."""
        tasks = {ref.task: load_task_config(ref.task).model_dump() for ref in self.all_task_refs()}
        tasks[self.domain.train.task] = load_task_config(self.domain.train.task).model_dump()
        return stable_hash({"track": self.model_dump(), "tasks": tasks})

    def all_task_refs(self) -> list[TaskRef]:
        return [*self.domain.tasks, *self.general]


# -------------------------------------------------------------------------------------- submissions

TRACK_FIXED_FIELDS = {
    "budget": "the budget",
    "eval": "evaluation settings",
    "evaluation": "evaluation settings",
    "seeds": "the seeds",
    "base_model": "the base model",
    "domain": "the domain tasks and training data",
    "general": "the general tasks",
    "training": "the training settings",
    "max_length": "the training sequence length (track.training.max_length)",
    "gradient_tokens": "the budget",
    "optimizer_steps": "the budget",
    "train_flops": "the budget",
    "n_test": "evaluation settings",
    "k": "evaluation settings",
    "temperature": "evaluation settings",
    "max_new_tokens": "evaluation settings",
}


class SubmissionConfig(Strict):
    """submissions/**/<name>.yaml: a method from the registry and its hyperparameters."""

    name: str = Field(min_length=1, max_length=200)
    method: str
    description: str = ""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    """Validated by the method's own config class (e.g. harness.methods.talr.TALRConfig)."""


# ----------------------------------------------------------------------------------------- loading


def stable_hash(obj: Any, length: int = 12) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(path, None, "file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(path, None, f"not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, None, "expected a mapping of fields at the top level")
    return data


def validation_errors(path: Path | str, err: ValidationError, model: type[BaseModel], prefix: str = "") -> ConfigErrors:
    """Turn pydantic's errors into ConfigErrors that name the field and what is allowed."""
    out = []
    for e in err.errors():
        field = prefix + ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, e["loc"][:-1])
            msg = f"unknown field. Allowed here: {', '.join(allowed)}" if allowed else "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = f"{e['msg']} (got {e.get('input')!r})"
        out.append(ConfigError(path, field, msg))
    return ConfigErrors(out)


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        ann = getattr(info, "annotation", None) if info else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            args = getattr(ann, "__args__", ()) or ()
            sub = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if sub is None:
                return []
            model = sub
    return sorted(model.model_fields)


def _parse(model: type[BaseModel], data: dict[str, Any], path: Path):
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise validation_errors(path, e, model) from None


def find_task_file(name: str) -> Path:
    path = tasks_dir() / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in tasks_dir().glob("*.yaml"))
        raise ConfigError(path, None, f"unknown task {name!r}. Known tasks: {', '.join(known)}")
    return path


def load_task_config(name: str) -> TaskConfig:
    path = find_task_file(name)
    cfg = _parse(TaskConfig, read_yaml(path), path)
    if cfg.name != name:
        raise ConfigError(path, "name", f"must equal the file name {name!r}, got {cfg.name!r}")
    return cfg


def track_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p
    path = tasks_dir() / "tracks" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(list_tracks())
        raise ConfigError(path, "track", f"unknown track {str(name_or_path)!r}. Known tracks: {known}")
    return path


def list_tracks() -> list[str]:
    return sorted(p.stem for p in (tasks_dir() / "tracks").glob("*.yaml"))


def load_track(name_or_path: str | Path) -> TrackConfig:
    path = track_path(name_or_path)
    track = _parse(TrackConfig, read_yaml(path), path)
    for ref in [*track.all_task_refs()]:
        try:
            load_task_config(ref.task)
        except ConfigError as e:
            raise ConfigError(path, "tasks", e.message) from None
    load_task_config(track.domain.train.task)
    return track


def load_submission(path: str | Path) -> SubmissionConfig:
    """Read and validate a submission that sweeps nothing (see `load_submissions` for sweeps)."""
    subs = load_submissions(path)
    if len(subs) != 1:
        raise ConfigError(path, "hyperparameters", f"this submission sweeps {len(subs)} values; use load_submissions")
    return subs[0]


def load_submissions(path: str | Path) -> list[SubmissionConfig]:
    """Read a submission, expand its sweeps (lists of values), and validate each resulting submission."""
    return parse_submissions(read_yaml(Path(path)), path)


def parse_submissions(data: dict[str, Any], path: str | Path) -> list[SubmissionConfig]:
    from harness.methods import METHODS  # methods import config; keep the cycle out of import time
    from harness.sweep import expand

    problems = []
    for key in list(data) + list((data.get("hyperparameters") or {}) if isinstance(data.get("hyperparameters"), dict) else []):
        if key in TRACK_FIXED_FIELDS:
            where = key if key in data else f"hyperparameters.{key}"
            problems.append(
                ConfigError(path, where, f"{TRACK_FIXED_FIELDS[key]} is fixed by the track; a submission cannot set it. "
                            "Remove this field (see the track file under tasks/tracks/).")
            )
    if problems:
        raise ConfigErrors(problems)
    sub = _parse(SubmissionConfig, data, path)
    if sub.method not in METHODS:
        raise ConfigError(path, "method", METHODS.unknown_message(sub.method))
    method = METHODS.get(sub.method)
    expanded = expand(sub, method.config_class)
    for one in expanded:
        method.parse_config(one.hyperparameters, path)
    return expanded
