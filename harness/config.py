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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError, ConfigErrors

REPO_ROOT = Path(__file__).resolve().parents[1]


def tasks_dir() -> Path:
    """Where task and track YAML files live: $HARNESS_TASKS_DIR, else the repository's tasks/."""
    return Path(os.environ.get("HARNESS_TASKS_DIR", REPO_ROOT / "tasks"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------- tasks


class DataSource(Strict):
    """Where a benchmark split lives: files under the data directory, else a hub dataset.

    With a data directory set (--data-dir or $HARNESS_DATA_DIR) only `local` is read and nothing
    touches the network; without one, `hub` is loaded through `datasets.load_dataset`.
    """

    local: list[str] = Field(default_factory=list)
    """Paths relative to the data directory (json/jsonl/csv), concatenated in order."""
    hub: str | None = None
    """Hub dataset id, e.g. openai/gsm8k."""
    hub_config: str | None = None
    hub_split: str = "test"

    _one = field_validator("local", mode="before")(lambda v: [v] if isinstance(v, str) else v)


MATH_SUFFIX = "Please reason step by step, and put your final answer within \\boxed{}."


class TaskConfig(Strict):
    """tasks/<name>.yaml: a synthetic skill (a generator) or a benchmark (data + prompt + grader)."""

    name: str
    description: str = ""
    version: int = 1
    """Bumped whenever data, prompt or grading change; recorded in every run."""
    kind: Literal["synthetic", "math", "medcalc", "esci"] = "synthetic"
    generator: str | None = None
    """synthetic: a name in harness.tasks.synthetic.GENERATORS."""
    params: dict[str, Any] = Field(default_factory=dict)
    """synthetic: keyword arguments of the generator; a track may override them.
    Benchmarks: prompt settings (e.g. prompt_suffix, with_cot) a track may override."""
    grader: Literal["final_answer", "math"] = "final_answer"
    """synthetic: exact text after the last '=' (final_answer) or math-verify on the boxed answer."""
    test_data: DataSource | None = None
    train_data: DataSource | None = None
    """Benchmarks with a train split (GSM8K, MedCalc, ESCI) feed SFT data and RL prompts from it."""
    dataset: str | None = None
    """math: which gold-answer field layout (math500, gsm8k, aime24, ...; see harness.graders.math)."""
    prompt_field: str = "problem"
    """math: the row field holding the problem text."""

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind == "synthetic" and not self.generator:
            raise ValueError("a synthetic task needs `generator`")
        if self.kind != "synthetic" and self.test_data is None:
            raise ValueError(f"a {self.kind} task needs `test_data`")
        return self


class TaskRef(Strict):
    """A task as a track uses it: the name plus parameter overrides."""

    task: str
    params: dict[str, Any] = Field(default_factory=dict)
    n_test: int | None = Field(None, ge=1)
    """Test items of this task, overriding the track's eval.n_test (a fixed seeded subset)."""


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
    """The track's base model: built and pretrained here (tiny), a HF model (hub id or folder), or a GGUF file."""

    kind: Literal["tiny", "hf", "gguf"] = "tiny"
    pretrain: PretrainConfig | None = None
    """tiny: the pretraining recipe (its hash is the cache key)."""
    path: str | None = None
    """hf: a hub id or a local directory; gguf: the directory holding the file."""
    package: str | None = None
    """A Python package that ships the model files (its folder is used; the package is not imported)."""
    gguf_file: str | None = None
    """gguf: the file name; transformers dequantizes it (to float32) and the harness caches the result."""
    revision: str | None = None
    trust_remote_code: bool = False
    """Off unless the track opts in: no model-supplied code runs by default."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """auto: bfloat16 on GPU, float32 on CPU."""
    chat_template: str | None = None
    """Overrides the tokenizer's chat template (Jinja text)."""

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind == "tiny" and self.pretrain is None:
            raise ValueError("a tiny base model needs `pretrain`")
        if self.kind != "tiny" and not (self.path or self.package):
            raise ValueError(f"a {self.kind} base model needs `path` or `package`")
        if self.kind == "gguf" and not self.gguf_file:
            raise ValueError("a gguf base model needs `gguf_file`")
        return self


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
    backend: Literal["transformers", "vllm"] = "transformers"
    """Generation backend; vllm is an optional extra (GPU)."""


class BudgetConfig(Strict):
    """Caps metered by the harness; None means uncapped. A run that exceeds one is invalid."""

    gradient_tokens: int | None = None
    """Supervised target tokens that receive a gradient."""
    optimizer_steps: int | None = None
    train_flops: float | None = None
    """Caps the total: 6 x parameters x gradient tokens, plus 2 x parameters x tokens of every other forward
    pass during training (reference models, scoring passes), plus generation FLOPs."""
    generated_tokens: int | None = None
    """Tokens sampled from a model during training (rollouts, self/teacher data), end tokens included."""
    rollouts: int | None = None
    """Completions sampled during training (one prompt x one sample = one rollout)."""
    generation_flops: float | None = None
    """Estimated as 2 x parameters of the sampling model x generated tokens."""


class TrainingDefaults(Strict):
    """Settings fixed by the track so that methods compare on equal footing."""

    max_length: int = 128
    """Token limit of a training sequence."""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    """Defaults for method hyperparameters on this track (e.g. the learning rate that suits its model);
    a submission's own values win. Keys a method does not take are ignored for it."""


class GeneralSuiteConfig(Strict):
    """General benchmarks run through lm-evaluation-harness (harness.lmeval) after the track's own tasks."""

    name: str
    """A suite under tasks/suites/ (or a path to a suite YAML)."""
    tasks: list[str] | None = None
    """A subset of the suite's task names; None: all of them."""
    limit: int | None = Field(None, ge=1)
    """Documents per task (lm-eval `limit`, the first N; per subtask for a group); None: all. Fixed by the track so
    every run sees the same items."""
    apply_chat_template: bool = True
    """Render prompts with the tokenizer's chat template (the one domain evaluation uses); False: raw text."""
    drop_below_base: float | None = Field(None, ge=0, le=100)
    """TALR's option: leave out of the general score every task on which the base model scores below this (0-100);
    None keeps all. The run records which tasks were dropped and why."""
    allow_code_execution: bool = False
    """Let tasks that execute model-written code (HumanEval) run, in a subprocess with a timeout."""
    batch_size: int = Field(16, ge=1)
    max_gen_toks: int | None = Field(None, ge=1)
    """Caps new tokens of generative tasks (lm-eval gen_kwargs); None: each task's own setting."""


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
    general_suite: GeneralSuiteConfig | None = None
    """General benchmarks through lm-eval, scored with role "general" beside `general` (tasks/suites/)."""

    _refs = field_validator("general", mode="before")(lambda v: [_task_ref(x) for x in v])

    @property
    def version(self) -> str:
        """Hash of the resolved track and the versions of its tasks: runs under another version are not ranked."""
        tasks = {ref.task: load_task_config(ref.task).model_dump() for ref in self.all_task_refs()}
        tasks[self.domain.train.task] = load_task_config(self.domain.train.task).model_dump()
        if self.general_suite is None:  # tracks without a suite keep the hash they had before suites existed
            return stable_hash({"track": self.model_dump(exclude={"general_suite"}), "tasks": tasks})
        from harness.suites import suite_fingerprint

        suite = suite_fingerprint(self.general_suite.name)
        return stable_hash({"track": self.model_dump(), "tasks": tasks, "general_suite": suite})

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
    samples_per_prompt: int = Field(8, ge=1)
    """Rollouts drawn per prompt and pass when rejection-sampling self/model data."""
    max_samples_per_prompt: int = Field(64, ge=1)
    """Passes repeat for prompts short of their quota of correct (and wrong) samples up to this many draws."""
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature of self/model rollouts."""

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

    name: str = Field(min_length=1, max_length=200)
    method: str
    description: str = ""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    """Validated by the method's own config class (e.g. harness.methods.talr.TALRConfig)."""
    data: DataRecipeConfig = DataRecipeConfig()
    """Where the SFT data comes from (SFT-family methods only); see DataRecipeConfig."""


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
    if track.general_suite is not None:
        _check_general_suite(track, path)
    return track


def _check_general_suite(track: TrackConfig, path: Path) -> None:
    """The suite exists, the subset names its tasks, and no suite task shares a name with a track task."""
    from harness.suites import load_suite

    try:
        suite = load_suite(track.general_suite.name)
    except ConfigError as e:
        raise ConfigError(path, "general_suite.name", e.message) from None
    names = [t.name for t in suite.tasks]
    unknown = [n for n in track.general_suite.tasks or [] if n not in names]
    if unknown:
        raise ConfigError(path, "general_suite.tasks", f"not in suite {suite.name!r}: {unknown}. Its tasks: {names}")
    clash = sorted(set(names) & {ref.task for ref in track.all_task_refs()})
    if clash:
        raise ConfigError(path, "general_suite", f"suite tasks {clash} share a name with the track's own tasks; "
                          "rename them in the suite file")


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
    # methods import config; keep the cycle out of import time
    from harness.methods import config_class, method_names, method_spec, unknown_method_message
    from harness.model_folders import check_recipe_models
    from harness.sweep import expand

    problems = []
    # A method's own hyperparameter may share a name with a track setting (GRPO's rollout `temperature`).
    method_name = data.get("method")
    known = isinstance(method_name, str) and method_name in method_names()
    own = set(config_class(method_name).model_fields) if known else set()
    for key in list(data) + list((data.get("hyperparameters") or {}) if isinstance(data.get("hyperparameters"), dict) else []):
        if key in TRACK_FIXED_FIELDS and not (key not in data and key in own):
            where = key if key in data else f"hyperparameters.{key}"
            problems.append(
                ConfigError(path, where, f"{TRACK_FIXED_FIELDS[key]} is fixed by the track; a submission cannot set it. "
                            "Remove this field (see the track file under tasks/tracks/).")
            )
    if problems:
        raise ConfigErrors(problems)
    sub = _parse(SubmissionConfig, data, path)
    check_recipe_models(sub.data, path)  # model folders the recipe names: present, code-free, safetensors
    if sub.method not in method_names():
        raise ConfigError(path, "method", unknown_method_message(sub.method))
    method, hyperparameters = method_spec(sub.method), config_class(sub.method)
    if sub.data != DataRecipeConfig() and not (method.trains and method.uses_sft_data):
        raise ConfigError(path, "data", f"method {sub.method!r} does not train on SFT data, so a data recipe does not "
                          "apply; remove the `data:` block (SFT-family methods: sft, dft, talr, ...)")
    expanded = expand(sub, hyperparameters)
    for one in expanded:
        hyperparameters.parse(one.hyperparameters, path)
    return expanded
