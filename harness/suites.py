"""General-benchmark suites: which lm-evaluation-harness tasks a track's general score is made of.

A suite is a file, tasks/suites/<name>.yaml. Each entry names the lm-eval builtin task (used when
no data directory is set and a hub is reachable) and, for offline use, a local definition under
tasks/lmeval/<local>.yaml that reads the data-directory layout. A local definition is two YAML
documents separated by a line `---`: a header the harness reads (the data files it needs, an
optional converter, subtasks) and an lm-eval task template, in which the harness replaces
${DATA} (the data directory), ${PREPARED} (converted files), ${LMEVAL} (lm-eval's builtin task
folder, for `include:`), ${TASK} (the generated task name) and ${SUB} (a subtask) with absolute
values at run time. This module only reads configs (models in `harness.schemas.suites`);
harness.lmeval runs them.
"""

from __future__ import annotations

from typing import Any

from harness.discovery import local_template_path, suite_path
from harness.errors import ConfigError
from harness.schemas.suites import LocalTaskHeader, SuiteConfig, SuiteTaskConfig
from harness.validation import parse_model
from harness.config_files import read_model_file
from harness.yaml_loader import parse_yaml, read_config_text

__all__ = ["LocalTaskHeader", "SuiteConfig", "SuiteTaskConfig", "load_suite", "read_local_template",
           "suite_fingerprint"]


def load_suite(name_or_path: str) -> SuiteConfig:
    path = suite_path(name_or_path)
    suite, lines = read_model_file(SuiteConfig, path)
    names = [t.name for t in suite.tasks]
    if len(set(names)) != len(names):
        raise ConfigError(path, "tasks", f"task names must be unique, got {names}")
    for t in suite.tasks:
        if t.local is not None:
            read_local_template(t.local)  # fail at load time, not after training
    return suite


def read_local_template(name: str) -> tuple[LocalTaskHeader, str]:
    """(header, lm-eval template text) of tasks/lmeval/<name>.yaml. The header is read like every config file;
    the template is lm-eval's (it may use lm-eval's own tags) and is handed to lm-eval as text."""
    path = local_template_path(name)
    text = read_config_text(path)
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ConfigError(path, None, "expected a harness header, a line '---', then the lm-eval task template")
    header = parse_yaml(head, path)
    if header is None:
        header = {}
    if not isinstance(header, dict):
        raise ConfigError(path, None, "the header (before '---') must be a mapping of fields", line=1)
    return parse_model(LocalTaskHeader, header, path), body


def suite_fingerprint(name_or_path: str) -> dict[str, Any]:
    """The suite and its local templates as data, for the track version hash."""
    suite = load_suite(name_or_path)
    local = {t.local: read_local_template(t.local)[1] for t in suite.tasks if t.local}
    return {"suite": suite.model_dump(), "local": local}
