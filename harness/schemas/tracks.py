"""Track files (tasks/tracks/<name>.yaml): the fixed playing field every submission shares.

A track's version (the hash that decides which runs are ranked together) needs its task and suite
files, so it is computed where files are read: `harness.config.track_version`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.schemas.base import Strict
from harness.schemas.names import Name
from harness.schemas.budget import BudgetConfig
from harness.schemas.efficiency import EfficiencyConfig
from harness.schemas.eval import EvalConfig
from harness.schemas.tasks import TaskRef, task_ref


class TinyModelConfig(Strict):
    """Llama architecture sizes of a tiny track's base model."""

    hidden_size: int = Field(128, ge=1, le=65536)
    intermediate_size: int = Field(384, ge=1, le=262144)
    num_hidden_layers: int = Field(3, ge=1, le=1024)
    num_attention_heads: int = Field(4, ge=1, le=1024)
    num_key_value_heads: int = Field(2, ge=1, le=1024)
    max_position_embeddings: int = Field(128, ge=1, le=1048576)


class PretrainConfig(Strict):
    """The recipe that builds a tiny track's base model; its hash is the cache key."""

    model: TinyModelConfig = TinyModelConfig()
    mixture: dict[str, Annotated[float, Field(ge=0, le=1e6)]]
    """Task name -> sampling weight in the pretraining corpus."""
    task_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-task parameter overrides for pretraining (e.g. the domain skill's rare-CoT probability)."""
    n_examples: int = Field(60000, ge=1)
    steps: int = Field(1500, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(3e-3, gt=0, le=1)
    warmup_steps: int = Field(50, ge=0)
    weight_decay: float = Field(0.0, ge=0, le=1)
    seed: int = Field(0, ge=0, lt=2**32)


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
    n: int = Field(2000, ge=1)
    """Number of training examples (disjoint from the test items)."""
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = Field(0, ge=0, lt=2**32)


class DomainConfig(Strict):
    tasks: list[TaskRef]
    train: DomainTrainConfig

    _refs = field_validator("tasks", mode="before")(lambda v: [task_ref(x) for x in v])


class TrainingDefaults(Strict):
    """Settings fixed by the track so that methods compare on equal footing."""

    max_length: int = Field(128, ge=1)
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


class ValidationConfig(Strict):
    """A track's validation set: what selection (sweeps, checkpoints) is scored on, never the test items.

    Either `n` items per evaluated task, drawn by the harness (synthetic tasks: split "validation" from the
    track's eval seed, disjoint from the test items and the domain training data; harness.track_data), or
    `none` with the reason the track has no validation source. Selection is refused on a track without one.
    """

    n: int | None = Field(None, ge=1)
    """Validation items per evaluated task (domain and general)."""
    none: str | None = Field(None, min_length=1)
    """Why this track has no validation set (e.g. its tasks have no train split to hold items out of)."""

    @model_validator(mode="after")
    def _one_of(self):
        if (self.n is None) == (self.none is None):
            raise ValueError("give either `n` (validation items per task) or `none` (the reason there is no "
                             "validation set), not both and not neither")
        return self


SELECTION_METRICS = ("S", "domain")
"""What selection maximises on validation: S (domain + general, the rank quantity) or the domain score alone."""


class SelectionConfig(Strict):
    """How a sweep's trials are chosen (AlgoPerf-style: a fixed trial budget, chosen on validation)."""

    max_trials: int = Field(8, ge=1)
    """The most trials (points of a sweep's product) a submission may ask for; more is refused before any work."""
    metric: Literal["S", "domain"] = "S"
    """The validation score the chosen trial (and checkpoint) maximises (see SELECTION_METRICS)."""
    checkpoint_every: int | None = Field(None, ge=1)
    """Evaluate on validation every N optimizer steps and score the run as its best checkpoint
    (harness/checkpoints.py); None (the default) scores the final weights."""


class ResourcesConfig(Strict):
    """What one run of the track needs from a scheduler (`harness study/run --launcher ray`): each (submission or
    trial, seed) is one Ray task asking for these. Scheduling only: no number a run produces depends on it, so
    the block never enters the track's version."""

    cpus: float = Field(1.0, gt=0, le=1024)
    """CPU cores per run (Ray's num_cpus; Ray also sets the run's OMP_NUM_THREADS, hence torch's threads, to it)."""
    gpus: float = Field(0.0, ge=0, le=64)
    """GPUs per run (Ray's num_gpus; a fraction shares one device between runs)."""
    memory_gb: float | None = Field(None, gt=0, le=65536)
    """Memory per run in GiB (Ray's `memory`, a scheduling reservation); None: no reservation."""


class TrackConfig(Strict):
    """tasks/tracks/<name>.yaml: the fixed playing field every submission shares."""

    name: Name
    """Names the runs/ and cache folders of the track (see harness.schemas.names.NAME_RULE)."""
    description: str = ""
    base_model: BaseModelConfig
    domain: DomainConfig
    general: list[TaskRef]
    eval: EvalConfig = EvalConfig()
    budget: BudgetConfig = BudgetConfig()
    training: TrainingDefaults = TrainingDefaults()
    seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] = Field(default_factory=lambda: [0], min_length=1)
    general_suite: GeneralSuiteConfig | None = None
    """General benchmarks through lm-eval, scored with role "general" beside `general` (tasks/suites/)."""
    validation: ValidationConfig | None = None
    """The validation set selection uses; None: the track declares none (selection is refused on it)."""
    selection: SelectionConfig = SelectionConfig()
    """Sweep limits and the selection metric; a `selection:` block needs a validation set."""
    efficiency: EfficiencyConfig | None = None
    """GPU speed settings (bf16, attention kernel, padding-free, Liger, gradient checkpointing) mapped onto TRL and
    transformers; None: the harness's defaults. Part of the track version only when set."""
    resources: ResourcesConfig | None = None
    """CPUs, GPUs and memory one run asks a Ray cluster for (`--launcher ray`); None: 1 CPU, no GPU. Not part of
    the track's version."""
    overrides: dict[str, Any] | None = None
    """Set by a study's `track_variants` (harness.study), never in a track file: the dotted fields changed from the
    track file and their values. Part of the track's version when set."""

    _refs = field_validator("general", mode="before")(lambda v: [task_ref(x) for x in v])

    @property
    def has_validation(self) -> bool:
        return self.validation is not None and self.validation.n is not None

    def no_validation_reason(self) -> str:
        """Why selection on this track is refused (only meaningful when it has no validation set)."""
        if self.validation is None:
            return f"track {self.name!r} declares no validation set (its file has no `validation:` block)"
        return f"track {self.name!r} has no validation set: {self.validation.none}"

    def all_task_refs(self) -> list[TaskRef]:
        """The evaluated tasks, domain first."""
        return [*self.domain.tasks, *self.general]
