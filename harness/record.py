"""The run record: one typed schema for metrics.json, points.json and ledger.json (docs/runs.md).

The runner writes every record through these models and scoring, compare and the site read them
back through the same models, so a field has one name, one type and one meaning everywhere
(lm-eval keeps its results the same way, in one `result_schema`). Light on purpose: pydantic only,
no torch, no file access (harness/runs.py reads and writes the files).

One version for all of them: SCHEMA_VERSION, stored as "schema" in metrics.json. A record of
another version is refused with a message that names the file and says how to redo it
(harness/runs.py `read_record`); the scorer never sees one.

Byte stability: every model remembers the key order it was built from and writes keys back in
that order, and leaves out keys that were never set (a run without a training curve has no
"curve"). A record read and written again, or validated before it is first written, gives the same
JSON bytes as the plain dict it came from. Numbers keep their JSON type (an integer stays an
integer). Fields not declared here (a task's extra headline metrics, such as ESCI's per-class
recalls) are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_serializer,
    model_validator,
)

SCHEMA_VERSION = 1
"""The version of metrics.json (and of the points and ledger files beside it). Bump it when a field
changes meaning or type; readers refuse any other version."""

Number = int | float
"""A JSON number: an int stays an int and a float a float, so writing a record back keeps its bytes."""

Status = Literal["ok", "failed", "over_budget"]
Role = Literal["domain", "general"]


def _label(value: object) -> object:
    """Point labels are text; a JSON number written by hand reads as its text."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class RecordModel(BaseModel):
    """Base of every record model: extra keys kept, key order and unset keys remembered for writing."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    _keys: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_key_order(cls, data: Any, handler):
        model = handler(data)
        if isinstance(data, Mapping) and model is not data:
            model._keys = tuple(data)
        return model

    @model_serializer(mode="wrap")
    def _write_in_key_order(self, handler):
        out = handler(self)
        if not self._keys or not isinstance(out, dict):
            return out
        order = {key: i for i, key in enumerate(self._keys)}
        return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))

    def to_json_dict(self) -> dict[str, Any]:
        """The record as the JSON object that is written: aliases as keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class TaskMetrics(RecordModel):
    """metrics.json `tasks.<name>`: one task's scores on one run."""

    role: Role
    """"domain" (what the submission tries to improve) or "general" (what it should keep)."""
    score: Number
    """The task's headline metric, 0-100."""
    metric: str = ""
    """The headline metric's name ("avg@1", "balanced_accuracy", "acc_norm", ...)."""
    n: int = 0
    """Test items."""
    k: int | None = None
    """Samples per item."""
    avg_at_k: Number | None = Field(default=None, alias="avg@k")
    """Mean correctness over all samples, a fraction in [0, 1]."""
    pass_at_k: Number | None = Field(default=None, alias="pass@k")
    """Unbiased pass@k, a fraction in [0, 1]."""
    mean_length: Number | None = None
    """Mean completion length in tokens."""
    truncated: Number | None = None
    """Share of samples stopped by the length limit."""
    extraction_failures: Number | None = None
    """Share of samples with no extractable answer."""
    wrong_answers: Number | None = None
    """Share of samples with an answer that graded wrong."""
    task_version: Number | str | None = None
    """The task definition's version (task YAML, or lm-eval's task version)."""
    item_scores: list[Number] = []
    """Per test item, its mean correctness over its k samples, in item order (the paired bootstrap's input)."""
    source: str | None = None
    """"lm-eval" for general benchmarks run through lm-evaluation-harness."""
    lm_eval_task: str | None = None
    lm_eval_run_as: str | None = None
    stderr: Number | None = None
    n_shot: int | None = None
    wall_seconds: Number | None = None
    split: Literal["test", "validation"] = "test"
    """Which items were scored: "validation" under metrics.json `validation`, else the test items (written only
    for validation)."""


class Budget(RecordModel):
    """metrics.json `budget` and ledger.json: the caps and what the run used (harness/budget.py)."""

    caps: dict[str, Any] = {}
    """Quantity -> cap (None: not capped)."""
    used: dict[str, Any] = {}
    """Quantity -> what the run used (gradient_tokens, processed_tokens, optimizer_steps, train_flops, total_flops, ...)."""
    within_budget: bool | None = None
    """False makes the run invalid on the leaderboard."""
    stopped_by_cap: str | None = None
    """Which cap ended training (or cut sampling short), or None."""

    def overruns(self) -> list[tuple[str, Number, Number]]:
        """(quantity, used, cap) for each capped quantity the run went past."""
        out = []
        for k, cap in self.caps.items():
            used = self.used.get(capped_measure(k))
            if cap is not None and isinstance(used, (int, float)) and used > cap:
                out.append((capped_measure(k), used, cap))
        return out


def capped_measure(cap: str) -> str:
    """The `used` quantity a cap limits: the `train_flops` cap limits the total (training + other forward passes
    + generation, `total_flops`); every other cap limits the quantity of its own name."""
    return "total_flops" if cap == "train_flops" else cap


class CurvePoint(RecordModel):
    """metrics.json `curve[i]`: the domain score and mean completion length after `step` optimizer steps."""

    step: int
    score: Number
    mean_length: Number
    chain: dict[str, list[Number]] | None = None
    """Serial-chain domain tasks (ksparse): {"local": [...], "gold": [...]}, the accuracy (0-100) of each chain
    position, the answer last (harness.tasks.chains)."""


class CheckpointPoint(RecordModel):
    """metrics.json `checkpoints.curve[i]`: the validation scores after `step` optimizer steps."""

    step: int
    score: Number
    """The selection score (domain + general, or domain alone, per `metric`)."""
    domain: Number | None = None
    general: Number | None = None
    mean_length: Number = 0.0


class Checkpoints(RecordModel):
    """metrics.json `checkpoints`: a track's checkpoint selection on validation (harness/checkpoints.py)."""

    every: int
    """Optimizer steps between validation evaluations."""
    metric: str
    chosen_step: int
    """The step whose weights the run was scored with."""
    restored: bool
    """True when the chosen weights were loaded back over the final ones."""
    note: str | None = None
    """Why the final weights were kept, when they were."""
    curve: list[CheckpointPoint] = []


class GeneralSuite(RecordModel):
    """metrics.json `general_suite`: the lm-eval suite a track ran, including the tasks that did not count."""

    name: str
    version: Number | str | None = None
    source: str | None = None
    lm_eval_version: str | None = None
    lm_eval_model: str | None = None
    """lm-eval's model class the suite ran on: HFLM (the model in memory) or VLLM (the run's vLLM engine)."""
    mode: str | None = None
    data_dir: str | None = None
    limit: int | None = None
    apply_chat_template: bool = False
    max_gen_toks: int | None = None
    drop_below_base: Number | None = None
    code_execution: dict[str, Any] | None = None
    tasks: dict[str, dict[str, Any]] = {}
    """Suite task -> {"status": "ok" | "unavailable" | "skipped" | "dropped", "score", "reason", ...}."""
    unavailable: list[str] = []
    """Tasks that did not run (unavailable or skipped)."""
    dropped: list[str] = []
    """Tasks left out by drop_below_base."""
    wall_seconds: Number | None = None


class Trial(RecordModel):
    """metrics.json `trial`: this run is one trial of a sweep (a submission with list-valued hyperparameters).

    The sweep is one leaderboard entry; the scorer chooses one trial on validation (harness/scoring.py)."""

    label: str
    """The trial's values as text, e.g. "learning_rate=0.001" (its folder under the entry's, harness/runs.py)."""
    index: int
    """0-based position in the sweep's product, in file order: ties in validation score go to the lower index."""
    count: int
    """Trials in the sweep."""
    values: dict[str, Any] = {}
    """Swept field -> this trial's value."""
    select_by: str = "S"
    """The track's selection metric ("S": domain + general on validation, "domain": domain only)."""


class RunRecord(RecordModel):
    """metrics.json: one run (submission x track x seed, and a point label when one training run yields several)."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, alias="schema")
    """SCHEMA_VERSION of the harness that wrote it."""
    track: str
    track_version: str | None = None
    """Hash of the resolved track config; a run of another version does not count."""
    submission: str
    """Untrusted text: escape when rendering."""
    description: str = ""
    """Untrusted text."""
    method: str = ""
    hyperparameters: dict[str, Any] = {}
    """The resolved hyperparameters (track defaults plus the submission's own)."""
    seed: int
    point: Annotated[str | None, BeforeValidator(_label)] = None
    """Label of this point when one training run yields several (wise-ft's alpha=0.5), else None."""
    status: Status
    """"ok", "failed" (error holds why) or "over_budget"."""
    error: str | None = None
    tasks: dict[str, TaskMetrics] = {}
    domain: Number | None = None
    """Mean of the domain task scores, 0-100."""
    general: Number | None = None
    """Mean of the general task scores, 0-100."""
    general_suite: GeneralSuite | None = None
    template: dict[str, Any] | None = None
    """Fingerprint of the chat template and end token used for training and evaluation."""
    budget: Budget | None = None
    wall_seconds: dict[str, Number] = {}
    """Phase -> seconds (train, evaluate, general_suite)."""
    data_recipe: dict[str, Any] | None = None
    """SFT-family methods: where the SFT data came from (None for RL methods)."""
    validation: dict[str, TaskMetrics] | None = None
    """Tracks with a validation set: each task scored on its validation items (split "validation"); what
    selection reads, never the leaderboard's scores."""
    trial: Trial | None = None
    """Set when the run is one trial of a sweep; the entry is (track, submission, point) and holds every trial."""
    checkpoints: Checkpoints | None = None
    """Only on tracks with `selection.checkpoint_every`: the validation curve and the chosen checkpoint."""
    curve: list[CurvePoint] | None = None
    """Only with a study's curve_every: the domain score every N optimizer steps, closed by the final evaluation."""
    curve_summary: dict[str, Number] | None = None
    """Only with a curve over a serial-chain task: {"chain_lead": points by which the first chain step's accuracy runs
    ahead of the last's, averaged over the curve (harness.curve.chain_lead)}."""
    baseline: bool = False
    """Marks a run as a baseline for `harness compare --baselines` besides the baseline submissions by name."""
    run_dir: str | None = Field(default=None, exclude=True)
    """Where the record was read from; set by the reader, never written."""

    @property
    def entry(self) -> tuple[str, str, str | None]:
        """The leaderboard entry the run belongs to: (track, submission, point)."""
        return self.track, self.submission, self.point

    @property
    def scored(self) -> bool:
        """Finished with status ok and task scores: what intervals are computed from."""
        return self.status == "ok" and bool(self.tasks)

    def role_mean(self, role: str) -> float | None:
        """The run's score for a role: the mean of its task scores with that role, None without any."""
        scores = [float(t.score) for t in self.tasks.values() if t.role == role]
        return sum(scores) / len(scores) if scores else None

    def validation_mean(self, role: str) -> float | None:
        """The run's validation score for a role (mean over its validation tasks with that role), None without any."""
        scores = [float(t.score) for t in (self.validation or {}).values() if t.role == role]
        return sum(scores) / len(scores) if scores else None


class Points(RecordModel):
    """points.json, in the training folder of a run that yields several points: their labels, in order."""

    points: list[Annotated[str, BeforeValidator(_label)]]


class RecordError(ValueError):
    """A run file that cannot be read as a record of this harness; the message names the file and the fix."""


def as_record(value: RunRecord | Mapping[str, Any]) -> RunRecord:
    """A RunRecord from a record or a parsed metrics.json (pure; raises pydantic's ValidationError)."""
    return value if isinstance(value, RunRecord) else RunRecord.model_validate(value)


def parse_record(data: object, source: str) -> RunRecord:
    """Validate a parsed metrics.json; refuse another schema version or a malformed record naming `source`."""
    redo = "rerun it with `harness run SUBMISSION --track TRACK --seed N --force` (or move the folder away)"
    if not isinstance(data, Mapping):
        raise RecordError(f"{source}: a run record is a JSON object, got {type(data).__name__}; {redo}")
    found = data.get("schema")
    if found != SCHEMA_VERSION:
        what = ("has no \"schema\" field (written before records were versioned)" if found is None
                else f"has schema {found!r}")
        who = ", ".join(f"{k} {data[k]!r}" for k in ("track", "submission", "seed") if k in data)
        raise RecordError(f"{source} {what}; this harness reads schema {SCHEMA_VERSION}"
                          + (f" ({who})" if who else "") + f": {redo}")
    try:
        return RunRecord.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(record)'}: {e['msg']}" for e in err.errors())
        raise RecordError(f"{source}: not a valid run record ({problems}); {redo}") from None


def record_models() -> tuple[type[RecordModel], ...]:
    """Every model of the record, for the docs check (tests/unit/test_record.py)."""
    return (RunRecord, TaskMetrics, Trial, Budget, CurvePoint, Checkpoints, CheckpointPoint, GeneralSuite, Points)
