"""Where config files live: task, track, suite and local lm-eval template files by name.

Task and track files live under $HARNESS_TASKS_DIR (default: the repository's tasks/): tasks/NAME.yaml,
tasks/tracks/NAME.yaml, tasks/suites/NAME.yaml, tasks/lmeval/NAME.yaml. A name that ends in .yaml or
.yml is taken as a path. An unknown name is a ConfigError listing the known ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from harness.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


def tasks_dir() -> Path:
    """Where task and track YAML files live: $HARNESS_TASKS_DIR, else the repository's tasks/."""
    return Path(os.environ.get("HARNESS_TASKS_DIR", REPO_ROOT / "tasks"))


def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def list_tasks() -> list[str]:
    return _stems(tasks_dir())


def list_tracks() -> list[str]:
    return _stems(tasks_dir() / "tracks")


def list_suites() -> list[str]:
    return _stems(tasks_dir() / "suites")


def find_task_file(name: str) -> Path:
    path = tasks_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(path, None, f"unknown task {name!r}. Known tasks: {', '.join(list_tasks())}")
    return path


def track_path(name_or_path: str | Path) -> Path:
    return _named_file("tracks", "track", name_or_path, "track", list_tracks)


def suite_path(name_or_path: str) -> Path:
    return _named_file("suites", "suite", name_or_path, "general_suite.name", list_suites)


def _named_file(folder: str, kind: str, name_or_path: str | Path, field: str, known: Callable[[], list[str]]) -> Path:
    """A YAML path as given, else tasks/FOLDER/NAME.yaml; an unknown name is a ConfigError listing the known ones."""
    if Path(name_or_path).suffix in (".yaml", ".yml"):
        return Path(name_or_path)
    path = tasks_dir() / folder / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(path, field, f"unknown {kind} {str(name_or_path)!r}. Known {kind}s: {', '.join(known())}")
    return path


def lmeval_templates_dir() -> Path:
    return tasks_dir() / "lmeval"


def local_template_path(name: str) -> Path:
    """tasks/lmeval/<name>.yaml, which must exist."""
    path = lmeval_templates_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(path, "local", f"no local lm-eval task definition {name!r}")
    return path
