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
    claims:                   # optional: a paper's claims as rules over the entries (docs/studies.md)
      - {id: ..., paper: "004", statement: ..., paper_result: ..., protocol: ...,
         quantity: {metric: general, entry: sft-lr-small, minus: sft}, claimed: "> 0"}

Every (submission, seed) is an ordinary run in the runs directory: finished runs are reused, so an
interrupted study resumes where it stopped; a sweep's trials are runs of one entry, chosen on the
track's validation set (harness/sweep.py). The study ends with a table of the scored rows.

With `track_variants`, every submission runs on each variant instead of the track: the track with the listed
fields set otherwise, named `TRACK.VARIANT`, with `overrides` recording what changed. A variant has its own
runs folder, its own cached base model (the pretraining recipe and task parameters are the cache key) and its
own version (the hash covers the changed fields and `overrides`), so runs of different variants never mix.

A submission whose data recipe samples from another entry's trained model (`data: {recipe: model, submission:
NAME}` or a `mix` source with `submission: NAME`) makes the study save that entry's model (`harness run
--save-model`); the entry must be listed before the submissions that read it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.claims import StudyClaims, study_claims
from harness.config import load_track, track_version
from harness.discovery import REPO_ROOT
from harness.errors import ConfigError, ConfigErrors
from harness.config_files import located, read_model_file
from harness.render.load import load_records
from harness.runs import atomic_write_json
from harness.schemas import StudyConfig, TrackConfig, TrackVariant
from harness.submissions import parse_trials
from harness.sweep import Trial
from harness.yaml_loader import read_yaml, with_lines

__all__ = ["StudyConfig", "check_claims", "decide_claims", "derive_track", "is_study_file", "load_study", "model_sources",
           "repository_reproductions", "store_claims", "study_tracks", "variant_track_versions"]


def is_study_file(path: str | Path) -> bool:
    """Whether a YAML file is a study (a mapping with `submissions:`) rather than a submission; unreadable -> False
    (the submission reader then says what is wrong with it)."""
    try:
        data = read_yaml(Path(path))
    except (ConfigError, OSError):
        return False
    return isinstance(data, dict) and "submissions" in data


def split_entry(label: str) -> tuple[str, str | None]:
    """'wise-ft @ alpha=0.5' -> ('wise-ft', 'alpha=0.5'); 'sft' -> ('sft', None)."""
    name, sep, point = label.partition("@")
    return name.strip(), (point.strip() or None) if sep else None


def check_claims(study: StudyConfig, entries: list[str], path: str | Path, track: str | None = None) -> None:
    """Every entry a claim names is one of the study's submissions (`NAME`, or `NAME @ POINT` for one point of
    an entry that yields several); a claim of a study with track variants names its variant (`quantity.track`);
    a curve metric needs the study's curve_every. All errors are reported together, each with its field."""
    errors = []
    known = ", ".join(entries)
    track = track or study.track
    variants = [f"{track}.{v.name}" for v in study.track_variants or []]
    for i, claim in enumerate(study.claims or []):
        q = claim.quantity
        if variants and q.track not in variants:
            errors.append(ConfigError(path, f"claims.{i}.quantity.track",
                                      f"{'no track' if q.track is None else repr(q.track)} given; study {study.name} "
                                      f"runs on track variants, so claim {claim.id} must name one: {', '.join(variants)}"))
        elif not variants and q.track not in (None, track):
            errors.append(ConfigError(path, f"claims.{i}.quantity.track",
                                      f"{q.track!r} is not this study's track; leave it out (the study runs on {track})"))
        if q.metric.startswith("curve:") and study.curve_every is None:
            errors.append(ConfigError(path, f"claims.{i}.quantity.metric",
                                      f"{q.metric} reads the runs' training curves; set the study's curve_every"))
        for field, label in claim.quantity.entries().items():
            name, point = split_entry(label)
            if name not in entries:
                errors.append(ConfigError(path, f"claims.{i}.quantity.{field}",
                                          f"{label!r} is not an entry of study {study.name} (claim {claim.id}); "
                                          f"the study's entries: {known}"))
            elif "@" in label and point is None:
                errors.append(ConfigError(path, f"claims.{i}.quantity.{field}",
                                          f"{label!r} names no point: write 'NAME @ POINT', e.g. 'wise-ft @ alpha=0.5'"))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)


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
    located(lambda: check_claims(study, names, path, track.name), path, lines)
    return study, track, subs


STUDIES_DIR = REPO_ROOT / "submissions" / "studies"


def shown_path(path: str | Path) -> str:
    """A study file as the command to run it names it: relative to the repository when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def decide_claims(path: str | Path, records: list, current_versions: dict[str, str]) -> StudyClaims | None:
    """The study's claims decided by `records` (every run of a runs directory; the study's own are picked out),
    or None when the study has no claims."""
    study, track, trials = load_study(path)
    if not study.claims:
        return None
    names = [t.name for t in trials if t.index == 0]
    tracks = study_tracks(study, track, path)
    # a study may name a track file of its own, and each variant has its own version
    versions = {**current_versions, **{t.name: track_version(t) for t in tracks}}
    return study_claims(study.name, shown_path(path), track.name, study.claims, study.seeds or track.seeds, names,
                        records, versions, tracks=[t.name for t in tracks])


def claims_file(runs_dir: Path, study: str) -> Path:
    """Where `harness study` stores a study's verdicts: <runs dir>/study-<name>.claims.json (a file beside the
    track folders, so no reader of runs mistakes it for a run)."""
    return Path(runs_dir) / f"study-{study}.claims.json"


def store_claims(runs_dir: Path, result: StudyClaims) -> Path:
    path = claims_file(runs_dir, result.study)
    atomic_write_json(path, result.to_json_dict())
    return path


def repository_reproductions(runs_dir: Path, current_versions: dict[str, str], studies_dir: Path = STUDIES_DIR,
                             also: Sequence[str | Path] = ()) -> tuple[list[StudyClaims], list[ConfigError]]:
    """Every study in `studies_dir` (and `also`) that has claims, decided by the runs under `runs_dir` (none there:
    every claim is 'not run'), in file-name order; plus the errors of study files that do not load (the site is
    still built without them; `harness validate` on the file says the same)."""
    runs_dir = Path(runs_dir)
    records = load_records(runs_dir) if runs_dir.is_dir() else []
    paths = sorted(Path(studies_dir).glob("*.yaml"))
    paths += [Path(p) for p in also if Path(p).resolve() not in {q.resolve() for q in paths}]
    found, errors = [], []
    for path in paths:
        try:
            decided = decide_claims(path, records, current_versions)
        except ConfigError as e:
            errors.append(e)
            continue
        if decided is not None:
            found.append(decided)
    return found, errors


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


def _sources_of(trial: Trial) -> set[str]:
    """Entries whose saved model a trial's data recipe samples from (`data.submission`, `data.mix[i].submission`)."""
    data = trial.submission.data
    return {src.submission for src in data.sources() if src.source == "model" and src.submission is not None}


def model_sources(trials: list[Trial]) -> set[str]:
    """Entries of a study whose trained model another entry samples from: the study saves their models."""
    return set().union(*(_sources_of(t) for t in trials)) if trials else set()
