"""Studies: a list of submissions over one track and several seeds, run together from one file.

    # submissions/studies/NAME.yaml   (run: harness study submissions/studies/NAME.yaml)
    name: forgetting
    description: "..."
    track: tiny-arith
    seeds: [0, 1, 2]          # default: the track's seeds
    curve_every: null         # evaluate the domain tasks every N optimizer steps (training curves)
    track_variants:           # optional: run everything on variants of the track instead (each its own track)
      - {name: eps10, set: {base_model.pretrain.task_params.parity.cot_prob: 0.1, domain.train.params.cot_prob: 0.1}}
    submissions:
      - submissions/baselines/sft.yaml            # a path, relative to the repository root or the study file
      - {name: sft-sweep, method: sft, hyperparameters: {learning_rate: [1.0e-4, 1.0e-3]}}   # inline; a sweep is one entry

Every (submission, seed) is an ordinary run in the runs directory: finished runs are reused, so an
interrupted study resumes where it stopped; a sweep's trials are runs of one entry, chosen on the
track's validation set (harness/sweep.py). The study ends with a table of the scored rows.

With `track_variants`, every submission runs on each variant instead of the track: the track with the listed
fields set otherwise, named `TRACK.VARIANT`, with `overrides` recording what changed. A variant has its own
runs folder, its own cached base model (the pretraining recipe and task parameters are the cache key) and its
own version (the hash covers the changed fields and `overrides`), so runs of different variants never mix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from harness.config import load_track
from harness.discovery import REPO_ROOT
from harness.errors import ConfigError
from harness.config_files import read_model_file
from harness.schemas import StudyConfig, TrackConfig, TrackVariant
from harness.submissions import parse_trials
from harness.sweep import Trial
from harness.yaml_loader import read_yaml, with_lines

__all__ = ["StudyConfig", "derive_track", "load_study", "study_tracks", "variant_track_versions"]


def load_study(path: str | Path) -> tuple[StudyConfig, TrackConfig, list[Trial]]:
    """The study, its track, and its submissions' trials (a sweep is one entry with one trial per value; checked
    against the track's trial limit); entry names must be unique."""
    path = Path(path)
    study, lines = read_model_file(StudyConfig, path)
    try:
        track = load_track(study.track)
    except ConfigError as e:
        if e.path is not None and Path(e.path).is_file():  # the track file itself is wrong: its own error says where
            raise
        raise with_lines(ConfigError(path, "track", e.message), path, lines) from None
    subs: list[Trial] = []
    for i, item in enumerate(study.submissions):
        if isinstance(item, str):
            sub_path = next((p for p in (path.parent / item, REPO_ROOT / item, Path(item)) if p.is_file()), None)
            if sub_path is None:
                raise ConfigError(path, f"submissions.{i}", f"no submission file {item!r} (relative to the repository or the study)")
            subs += parse_trials(read_yaml(sub_path), sub_path, track)
        else:
            subs += parse_trials(item, f"{path} (submissions.{i})", track)
    names = [s.name for s in subs if s.index == 0]  # one name per entry (a sweep's trials share it)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(path, "submissions", f"submission names must be unique in a study; repeated: {', '.join(dupes)}")
    return study, track, subs


def derive_track(track: TrackConfig, variant: TrackVariant, where: str | Path = "<study>") -> TrackConfig:
    """`track` with the variant's dotted fields set, named TRACK.VARIANT, its `overrides` saying what changed."""
    data = track.model_dump()
    for dotted, value in variant.set.items():
        field = f"track_variants.{variant.name}.set.{dotted}"
        node: Any = data
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
            present = (0 <= key < len(node)) if isinstance(node, list) and isinstance(key, int) else (
                isinstance(node, dict) and key in node)
            if not present:
                at = ".".join(parts[:i]) or "the track"
                have = (f"items 0..{len(node) - 1}" if isinstance(node, list) else
                        ", ".join(sorted(map(str, node))) if isinstance(node, dict) else "no fields")
                raise ConfigError(where, field, f"track {track.name!r} has no {part!r} under {at} (it has: {have}); "
                                  "a variant may only change fields the track already has")
            if i == len(parts) - 1:
                node[key] = copy.deepcopy(value)
            else:
                node = node[key]
    data["name"] = f"{track.name}.{variant.name}"
    changed = ", ".join(f"{k}={v}" for k, v in variant.set.items())
    data["description"] = f"{track.description} [variant {variant.name}: {changed}]"
    data["overrides"] = dict(variant.set)
    try:
        return TrackConfig.model_validate(data)
    except ValueError as e:
        raise ConfigError(where, f"track_variants.{variant.name}", f"the variant is not a valid track: {e}") from None


def study_tracks(study: StudyConfig, track: TrackConfig, where: str | Path = "<study>") -> list[TrackConfig]:
    """The tracks a study runs on: its track, or each of its track variants."""
    if not study.track_variants:
        return [track]
    names = [v.name for v in study.track_variants]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(where, "track_variants", f"variant names must be unique; repeated: {', '.join(dupes)}")
    return [derive_track(track, v, where) for v in study.track_variants]


def variant_track_versions(study_paths: list[Path]) -> dict[str, str]:
    """Name -> version of every track variant the given study files define (the leaderboard ranks their runs like
    any track's); a study file that does not load is left out (`harness study` reports its errors)."""
    from harness.config import track_version

    out: dict[str, str] = {}
    for path in study_paths:
        try:
            study, _ = read_model_file(StudyConfig, path)
            if not study.track_variants:
                continue
            for derived in study_tracks(study, load_track(study.track), path):
                out[derived.name] = track_version(derived)
        except ConfigError:
            continue
    return out
