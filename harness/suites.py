"""General-benchmark suites: which lm-evaluation-harness tasks a track's general score is made of.

A suite is a file, tasks/suites/<name>.yaml. Each entry names the lm-eval builtin task (used when
no data directory is set and a hub is reachable) and, for offline use, a local definition under
tasks/lmeval/<local>.yaml that reads the data-directory layout. A local definition is two YAML
documents separated by a line `---`: a header the harness reads (the data files it needs, an
optional converter, subtasks) and an lm-eval task template, in which the harness replaces
${DATA} (the data directory), ${PREPARED} (converted files), ${LMEVAL} (lm-eval's builtin task
folder, for `include:`), ${TASK} (the generated task name) and ${SUB} (a subtask) with absolute
values at run time. This module only reads configs; harness.lmeval runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from harness.config import Strict, _parse, read_yaml, tasks_dir
from harness.errors import ConfigError


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


def lmeval_templates_dir() -> Path:
    return tasks_dir() / "lmeval"


def suite_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p
    path = tasks_dir() / "suites" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(q.stem for q in (tasks_dir() / "suites").glob("*.yaml")))
        raise ConfigError(path, "general_suite.name", f"unknown suite {name_or_path!r}. Known suites: {known}")
    return path


def load_suite(name_or_path: str) -> SuiteConfig:
    path = suite_path(name_or_path)
    suite = _parse(SuiteConfig, read_yaml(path), path)
    names = [t.name for t in suite.tasks]
    if len(set(names)) != len(names):
        raise ConfigError(path, "tasks", f"task names must be unique, got {names}")
    for t in suite.tasks:
        if t.local is not None:
            read_local_template(t.local)  # fail at load time, not after training
    return suite


def read_local_template(name: str) -> tuple[LocalTaskHeader, str]:
    """(header, lm-eval template text) of tasks/lmeval/<name>.yaml."""
    path = lmeval_templates_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(path, "local", f"no local lm-eval task definition {name!r}")
    text = path.read_text()
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ConfigError(path, None, "expected a harness header, a line '---', then the lm-eval task template")
    try:
        header = yaml.safe_load(head) or {}
    except yaml.YAMLError as e:
        raise ConfigError(path, None, f"header is not valid YAML: {e}") from None
    return _parse(LocalTaskHeader, header, path), body


def suite_fingerprint(name_or_path: str) -> dict[str, Any]:
    """The suite and its local templates as data, for the track version hash."""
    suite = load_suite(name_or_path)
    local = {t.local: read_local_template(t.local)[1] for t in suite.tasks if t.local}
    return {"suite": suite.model_dump(), "local": local}
