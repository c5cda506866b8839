"""Studies: a list of submissions over one track and several seeds, run together from one file.

    # submissions/studies/NAME.yaml   (run: harness study submissions/studies/NAME.yaml)
    name: forgetting
    description: "..."
    track: tiny-arith
    seeds: [0, 1, 2]          # default: the track's seeds
    curve_every: null         # evaluate the domain tasks every N optimizer steps (training curves)
    submissions:
      - submissions/baselines/sft.yaml            # a path, relative to the repository root or the study file
      - {name: sft-sweep, method: sft, hyperparameters: {learning_rate: [1.0e-4, 1.0e-3]}}   # inline; a sweep is one entry

Every (submission, seed) is an ordinary run in the runs directory: finished runs are reused, so an
interrupted study resumes where it stopped; a sweep's trials are runs of one entry, chosen on the
track's validation set (harness/sweep.py). The study ends with a table of the scored rows.
"""

from __future__ import annotations

from pathlib import Path

from harness.config import load_track
from harness.discovery import REPO_ROOT
from harness.errors import ConfigError
from harness.config_files import read_model_file
from harness.schemas import StudyConfig, TrackConfig
from harness.submissions import parse_trials
from harness.sweep import Trial
from harness.yaml_loader import read_yaml, with_lines

__all__ = ["StudyConfig", "load_study"]


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
