"""Task and track files: read, validated, and their cross-file checks; the track version.

Flow: file -> `harness.yaml_loader.read_yaml` (UTF-8, plain data only) -> pydantic model from
`harness.schemas` (extra="forbid", frozen) -> code. Every problem is a `ConfigError` naming the
file, the field and what is allowed. Submissions are read by `harness.submissions` (their checks
need the methods), suites by `harness.suites`, studies by `harness.study`.
"""

from __future__ import annotations

from pathlib import Path

from harness.discovery import find_task_file, track_path
from harness.errors import ConfigError
from harness.hashing import stable_hash
from harness.schemas import TaskConfig, TrackConfig
from harness.suites import load_suite, suite_fingerprint
from harness.config_files import read_model_file
from harness.yaml_loader import with_lines

__all__ = ["load_task_config", "load_track", "track_version"]


def load_task_config(name: str) -> TaskConfig:
    """tasks/<name>.yaml; its `name` must equal the file name."""
    path = find_task_file(name)
    cfg, lines = read_model_file(TaskConfig, path)
    if cfg.name != name:
        raise with_lines(ConfigError(path, "name", f"must equal the file name {name!r}, got {cfg.name!r}"), path, lines)
    return cfg


def load_track(name_or_path: str | Path) -> TrackConfig:
    """A track by name (tasks/tracks/NAME.yaml) or path, with every task and the general suite it names checked."""
    path = track_path(name_or_path)
    track, lines = read_model_file(TrackConfig, path)
    for ref in [*track.all_task_refs()]:
        try:
            load_task_config(ref.task)
        except ConfigError as e:
            raise ConfigError(path, "tasks", e.message) from None
    load_task_config(track.domain.train.task)
    if track.overrides is not None:
        raise with_lines(ConfigError(path, "overrides", "is set by a study's `track_variants` for its variants, never in "
                                     "a track file; remove it"), path, lines)
    if "selection" in track.model_fields_set and not track.has_validation:
        raise with_lines(ConfigError(path, "selection", f"{track.no_validation_reason()}, so nothing can be selected on "
                                     "it; add `validation: {n: N}` or remove the `selection` block"), path, lines)
    if track.general_suite is not None:
        _check_general_suite(track, path)
    return track


def track_version(track: TrackConfig) -> str:
    """Hash of the resolved track and the versions of its tasks: runs under another version are not ranked.

    A validation set and a `selection` block count only when the track has them (a `validation: {none: ...}`
    changes no item and no number), so a track without them keeps the hash it had before they existed. `resources`
    (what a run asks a scheduler for) never counts."""
    unset = {"validation"} if not track.has_validation else set()
    unset |= {"selection"} if "selection" not in track.model_fields_set else set()
    unset |= {"efficiency"} if track.efficiency is None else set()  # tracks without the block keep their version
    unset |= {"resources"}  # scheduling only (harness.schemas.tracks.ResourcesConfig): no run's numbers depend on it
    unset |= {"overrides"} if track.overrides is None else set()  # a study's variant: what it changed counts
    tasks = {ref.task: load_task_config(ref.task).model_dump() for ref in track.all_task_refs()}
    tasks[track.domain.train.task] = load_task_config(track.domain.train.task).model_dump()
    if track.general_suite is None:  # tracks without a suite keep the hash they had before suites existed
        return stable_hash({"track": track.model_dump(exclude={"general_suite", *unset}), "tasks": tasks})
    suite = suite_fingerprint(track.general_suite.name)
    return stable_hash({"track": track.model_dump(exclude=unset), "tasks": tasks, "general_suite": suite})


def _check_general_suite(track: TrackConfig, path: Path) -> None:
    """The suite exists, the subset names its tasks, and no suite task shares a name with a track task."""
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
