"""Task files (tasks/<name>.yaml) and a track's references to them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.schemas.base import Strict


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


class TaskConfig(Strict):
    """tasks/<name>.yaml: a synthetic skill (a generator) or a benchmark (data + prompt + grader)."""

    name: str
    description: str = ""
    version: int = Field(1, ge=1)
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


def task_ref(value: Any) -> Any:
    """A track may name a task by its bare name: `parity` means `{task: parity}`."""
    return {"task": value} if isinstance(value, str) else value
