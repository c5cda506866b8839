"""General-benchmark suite files (tasks/suites/<name>.yaml) and the header of local lm-eval task files.

What the files mean is described in `harness.suites`, which reads them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.schemas.base import Strict


class SuiteTaskConfig(Strict):
    """One general benchmark of a suite."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    """Key in metrics.json `tasks` and in samples/lmeval-<name>.jsonl; must differ from the track's domain tasks."""
    lm_eval_task: str
    """The lm-eval builtin task or group, run when no data directory is set (hub datasets)."""
    metric: str
    """Headline metric as lm-eval names it (acc, acc_norm, exact_match, inst_level_strict_acc, pass@1, ...)."""
    filter: str = "none"
    """lm-eval filter whose value is the headline (gsm8k: flexible-extract; CoT BBH: get-answer)."""
    num_fewshot: int | None = None
    """None: the task's own default (lm-eval's)."""
    local: str | None = None
    """Offline definition tasks/lmeval/<local>.yaml; None: no local data, so the task is unavailable offline."""
    unavailable_reason: str | None = None
    """Why there is no local definition (reported in the run)."""
    unsafe_code: bool = False
    """Executes model-written code (HumanEval): runs only where the track or `--allow-code-execution` allows it."""


class SuiteConfig(Strict):
    """tasks/suites/<name>.yaml."""

    name: str
    description: str = ""
    version: int = 1
    """Bumped when entries, prompts or metrics change; part of the track version."""
    tasks: list[SuiteTaskConfig]


class LocalTaskHeader(Strict):
    """The first document of tasks/lmeval/<name>.yaml."""

    requires: list[str] = Field(default_factory=list)
    """Data-directory-relative files the task reads (${SUB} expands per subtask); any missing -> unavailable."""
    prepare: str | None = None
    """A converter in harness.lmeval.PREPARERS that writes ${PREPARED} files from the raw layout."""
    subtasks: list[str] = Field(default_factory=list)
    """One lm-eval task per entry (${TASK}_${SUB}) under a group named ${TASK}."""
    aggregate: list[dict[str, Any]] = Field(default_factory=list)
    """The group's aggregate_metric_list (lm-eval syntax), when there are subtasks."""
