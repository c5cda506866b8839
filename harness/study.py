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

A submission whose data recipe samples from another entry's trained model (`data: {recipe: model, submission:
NAME}` or a `mix` source with `submission: NAME`) makes the study save that entry's model (`harness run
--save-model`); the entry must be listed before the submissions that read it.
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

__all__ = ["StudyConfig", "load_study", "model_sources"]


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
    for i, trial in enumerate(subs):
        for needed in sorted(_sources_of(trial)):
            if needed not in names[: names.index(trial.name)]:
                raise ConfigError(path, "submissions", f"{trial.name!r} samples its data from entry {needed!r}, which must "
                                  "be an entry of the study listed before it (its model is saved when it runs)")
    return study, track, subs


def _sources_of(trial: Trial) -> set[str]:
    """Entries whose saved model a trial's data recipe samples from (`data.submission`, `data.mix[i].submission`)."""
    data = trial.submission.data
    return {src.submission for src in data.sources() if src.source == "model" and src.submission is not None}


def model_sources(trials: list[Trial]) -> set[str]:
    """Entries of a study whose trained model another entry samples from: the study saves their models."""
    return set().union(*(_sources_of(t) for t in trials)) if trials else set()
