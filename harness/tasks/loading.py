"""A task by name: its YAML, the track's parameter overrides, and the class of its kind.

Kinds register themselves in `TASK_KINDS` when their module is imported; this module imports every
kind's module (synthetic in `harness.tasks.task`, the benchmarks in `harness.tasks.benchmarks`), so
a kind module never needs to import the loader and no cycle forms.
"""

from __future__ import annotations

from typing import Any

import harness.tasks.benchmarks  # noqa: F401  (registers the benchmark kinds)
from harness.config import load_task_config
from harness.schemas import TaskRef
from harness.tasks.synthetic import GENERATORS
from harness.tasks.task import TASK_KINDS, Task


def load_task(ref: TaskRef | str, extra_params: dict[str, Any] | None = None) -> Task:
    """A task with its YAML defaults, then the track's overrides, then `extra_params`."""
    ref = TaskRef(task=ref) if isinstance(ref, str) else ref
    cfg = load_task_config(ref.task)
    params = {**cfg.params, **ref.params, **(extra_params or {})}
    if cfg.kind == "synthetic":
        GENERATORS.get(cfg.generator)  # fail early on an unknown generator
    return TASK_KINDS.get(cfg.kind)(cfg, params)
