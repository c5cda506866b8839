"""The scorer: run records in, leaderboard rows out. Pure: no file reads, no torch, no plots.

A run record is a harness.record.RunRecord (metrics.json, docs/runs.md; a plain parsed dict is
validated into one, which is pure). Runs are grouped into entries by (track, submission, point); a sweep's
trials are one entry, of which harness/selection.py chooses one trial on validation scores alone, and only
that trial's runs are scored here (a plain submission is a sweep of one). An entry's scores are means over its seeds
with bootstrap intervals (harness/bootstrap.py), and its deltas are paired against the track's
base model, the submission named "base". The site, the exports and `harness compare` all read
these rows; nothing else computes a leaderboard number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from harness.bootstrap import (
    BOOTSTRAP_SEED,
    N_BOOT,
    Estimated,
    GroupReplicates,
    ItemDraws,
    percentile_interval,
    replicate_group,
)
from harness.record import Budget, RunRecord, as_record
from harness.selection import SELECTION_RULE, Selection, choose_trial

BASE_SUBMISSION = "base"

RANK_RULE = (
    "Valid entries are ranked by their total gain over the track's base model, "
    "S = domain delta + general delta, both in points on the 0-100 scale: a point of domain "
    "score counts as much as a point of general ability, so an entry that buys domain gain with "
    "an equal general loss ranks with the base model. The base model is ranked too, at S = 0. "
    "Ties are explicit: walking down the list sorted by S, an entry joins the current tie group "
    "while its 95% interval for S overlaps the interval of the group's first entry, otherwise it "
    "starts the next group; every entry of a group shares the rank of the group's first entry. "
    "Intervals come from a paired bootstrap against the base runs that resamples seeds, then "
    "test items within each task. The Pareto frontier on (domain, general) is marked beside the "
    "rank for readers who weigh the two differently. Invalid entries (a run that failed, went "
    "over budget, or was scored on another version of the track) are listed with the reason and "
    "are neither ranked nor placed on the frontier. A track without a valid base entry has no "
    "deltas and no ranks."
)
"""The rank rule, stated once: the site and the README show this text."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% bootstrap interval, in points."""

    value: float
    low: float
    high: float

    def overlaps(self, other: Estimate) -> bool:
        return self.low <= other.high and other.low <= self.high

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class TaskScore:
    """One task of one entry: its headline score and its delta against the base entry (seed mean, intervals).

    Not to be confused with harness.evaluate.TaskEvaluation, one run's raw evaluation of a task."""

    task: str
    role: str
    metric: str
    n: int
    score: Estimate
    delta: Estimate | None


@dataclass(frozen=True)
class RunSummary:
    """One seed's run, as listed on the site: where it lives and why it does not count, if so."""

    seed: int
    run_dir: str | None
    status: str
    invalid_reason: str | None
    domain: float | None
    general: float | None
    trial: str | None = None
    """The sweep trial the run belongs to (its label), None for a plain run."""


@dataclass(frozen=True)
class Row:
    """One entry (track, submission, point) across its seeds. Treat the dict fields as read-only."""

    track: str
    submission: str
    description: str
    method: str
    hyperparameters: dict
    point: str | None
    seeds: tuple[int, ...]
    domain: Estimate | None
    general: Estimate | None
    domain_delta: Estimate | None
    general_delta: Estimate | None
    total_delta: Estimate | None
    """S = domain_delta + general_delta with its own paired interval: the rank quantity."""
    budget_used: dict[str, float]
    """Mean over seeds of each metered quantity (docs/runs.md budget.used)."""
    budget_caps: dict[str, float | None]
    valid: bool
    invalid_reason: str | None
    frontier: bool
    rank: int | None
    tie_group: int | None
    """1-based tie group; entries in one group are not separated by the rank rule."""
    tie_size: int
    is_base: bool
    tasks: tuple[TaskScore, ...]
    runs: tuple[RunSummary, ...]
    """The runs scored: a sweep's chosen trial only."""
    selection: Selection | None = None
    """A sweep: its trials, their validation scores and the chosen one (harness/selection.py); None when plain."""

    @property
    def n_trials(self) -> int:
        return self.selection.n_trials if self.selection is not None else 1

    @property
    def label(self) -> str:
        """The submission name plus its point, for display (still untrusted text)."""
        return self.submission if self.point is None else f"{self.submission} @ {self.point}"


@dataclass(frozen=True)
class TaskInfo:
    name: str
    role: str
    metric: str


@dataclass(frozen=True)
class TrackTable:
    """One track's leaderboard; rows are in leaderboard order (ranked, unranked valid, invalid)."""

    track: str
    version: str | None
    base: str | None
    tasks: tuple[TaskInfo, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Leaderboard:
    tracks: tuple[TrackTable, ...]
    rank_rule: str = RANK_RULE
    selection_rule: str = SELECTION_RULE
    n_boot: int = N_BOOT
    bootstrap_seed: int = BOOTSTRAP_SEED


def invalid_reason(record: RunRecord, current_versions: Mapping[str, str]) -> str | None:
    """Why a run must not count, or None. Checked in the order a reader would fix them.

    (A record of another schema version never gets here: reading it is refused, harness/record.py.)"""
    if record.status != "ok":
        return f"status {record.status}" + (f": {record.error}" if record.error else "")
    budget = record.budget or Budget()
    if budget.within_budget is not True:
        return "over budget" + _overrun(budget)
    if record.track not in current_versions:
        return f"track {record.track!r} is not defined any more"
    if record.track_version != current_versions[record.track]:
        return f"scored on track version {record.track_version}, current is {current_versions[record.track]}"
    if not record.tasks:
        return "no task scores"
    return None


def _overrun(budget: Budget) -> str:
    over = [f"{k} {used:g} > cap {cap:g}" for k, used, cap in budget.overruns()]
    return f" ({', '.join(over)})" if over else ""


def _estimate(est: Estimated) -> Estimate:
    return Estimate(est.value, *percentile_interval(est.replicates))


def _delta(entry: Estimated | None, base: Estimated | None) -> Estimate | None:
    if entry is None or base is None:
        return None
    return Estimate(entry.value - base.value, *percentile_interval(entry.replicates - base.replicates))


def _total(entry: GroupReplicates, base: GroupReplicates, is_base: bool) -> Estimate | None:
    """S = sum of the role deltas; a role neither side has (a track without general tasks) adds 0."""
    if is_base:
        return Estimate(0.0, 0.0, 0.0)
    roles = [r for r in entry.roles if r in base.roles]
    if not roles:
        return None
    value = sum(entry.roles[r].value - base.roles[r].value for r in roles)
    reps = sum(entry.roles[r].replicates - base.roles[r].replicates for r in roles)
    return Estimate(value, *percentile_interval(reps))


def _mean_budget(runs: list[RunRecord]) -> tuple[dict[str, float], dict[str, float | None]]:
    used: dict[str, list[float]] = defaultdict(list)
    caps: dict[str, float | None] = {}
    for run in runs:
        budget = run.budget or Budget()
        for k, v in budget.used.items():
            if isinstance(v, (int, float)):
                used[k].append(float(v))
        caps.update(budget.caps)
    return {k: float(np.mean(v)) for k, v in sorted(used.items())}, dict(sorted(caps.items()))


@dataclass(frozen=True)
class _Entry:
    """An entry's runs plus their replicates, before rows are frozen."""

    key: tuple[str, str, str | None]
    runs: list[RunRecord]
    reasons: list[str | None]
    reps: GroupReplicates
    selection: Selection | None = None

    @property
    def invalid_reason(self) -> str | None:
        if self.selection is not None and self.selection.refused:
            return f"sweep: {self.selection.refused}"
        seeds_by_reason: dict[str, list[str]] = defaultdict(list)
        for run, reason in zip(self.runs, self.reasons):
            if reason:
                seeds_by_reason[reason].append(str(run.seed))
        return "; ".join(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}: {reason}"
                         for reason, seeds in seeds_by_reason.items()) or None


def _group_runs(records: Iterable[RunRecord]) -> dict[tuple, list[RunRecord]]:
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[record.entry].append(record)
    for runs in groups.values():
        runs.sort(key=lambda r: r.seed)
    return groups


def _task_infos(entries: list[_Entry]) -> tuple[TaskInfo, ...]:
    infos: dict[str, TaskInfo] = {}
    for entry in entries:
        for run in entry.runs:
            for name, m in run.tasks.items():
                infos.setdefault(name, TaskInfo(name, m.role, m.metric))
    # Domain tasks first: they are what a submission is trying to improve.
    return tuple(sorted(infos.values(), key=lambda t: (t.role != "domain", t.name)))


def _frontier(rows: list[dict]) -> set[int]:
    """Indices of valid rows that no other valid row dominates on (domain, general)."""
    points = {i: (r["domain"].value if r["domain"] else 0.0, r["general"].value if r["general"] else 0.0)
              for i, r in enumerate(rows) if r["valid"]}
    return {i for i, (d, g) in points.items()
            if not any(d2 >= d and g2 >= g and (d2, g2) != (d, g) for d2, g2 in points.values())}


def _rank(rows: list[dict]) -> None:
    """Rank valid rows by S and group ties, in place (see RANK_RULE)."""
    ranked = sorted((r for r in rows if r["valid"] and r["total_delta"] is not None),
                    key=lambda r: (-r["total_delta"].value, r["submission"], r["point"] or ""))
    group, leader = 0, None
    members: dict[int, list[dict]] = defaultdict(list)
    for position, row in enumerate(ranked, start=1):
        if leader is None or not row["total_delta"].overlaps(leader["total_delta"]):
            group, leader = group + 1, row
            leader["rank"] = position
        row["rank"], row["tie_group"] = leader["rank"], group
        members[group].append(row)
    for rows_in_group in members.values():
        for row in rows_in_group:
            row["tie_size"] = len(rows_in_group)


def _order_key(row: dict) -> tuple:
    label = (row["submission"], row["point"] or "")
    if row["rank"] is not None:
        return (0, row["rank"], -row["total_delta"].value, label)
    if row["valid"]:
        total = sum(e.value for e in (row["domain"], row["general"]) if e is not None)
        return (1, 0, -total, label)
    return (2, 0, 0.0, label)


def general_suite_notes(records: list[RunRecord]) -> list[str]:
    """What the page must say about a track's lm-eval general suite (metrics.json `general_suite`, docs/runs.md):
    its tasks that did not run, and, when TALR's drop_below_base is on, the threshold and the tasks it dropped."""
    suites = [r.general_suite for r in records if r.status == "ok" and r.general_suite]
    if not suites:
        return []
    first = suites[0]
    notes = [f"General benchmarks from lm-eval suite {first.name!r}"
             + (f", the first {first.limit} documents of each" if first.limit else "")
             + (", prompts in the chat template." if first.apply_chat_template else ", raw prompts.")]
    missing = sorted({name for s in suites for name in s.unavailable})
    if missing:
        notes.append(f"Not run, so not in the general score: {', '.join(missing)} (no local data or not allowed; "
                     "the reason is on each run's page).")
    threshold = first.drop_below_base
    if threshold is not None:
        dropped = sorted({name for s in suites for name in s.dropped})
        notes.append(f"drop_below_base is on: general benchmarks on which the base model scores below {threshold:g} "
                     f"are left out of the general score (dropped: {', '.join(dropped) or 'none'}).")
    return notes


def score_track(track: str, records: Iterable[RunRecord | Mapping], current_versions: Mapping[str, str],
                n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED) -> TrackTable:
    """Score every entry of one track."""
    records = [as_record(r) for r in records]
    draws = ItemDraws(track, n_boot=n_boot, seed=seed)
    entries = []
    for key, runs in sorted(_group_runs(records).items(), key=lambda kv: (kv[0][1], kv[0][2] or "")):
        runs, selection = choose_trial(runs, lambda run: invalid_reason(run, current_versions))  # validation only
        reasons = [invalid_reason(run, current_versions) for run in runs]
        scored = [run for run in runs if run.status == "ok"] if selection is None or not selection.refused else []
        entries.append(_Entry(key, runs, reasons, replicate_group(scored, draws, key), selection))

    notes = []
    base = next((e for e in entries if e.key[1] == BASE_SUBMISSION and e.key[2] is None), None)
    if base is None:
        notes.append("No base entry (a submission named 'base'): no deltas and no ranks.")
    elif base.invalid_reason:
        notes.append(f"The base entry is invalid ({base.invalid_reason}): no deltas and no ranks.")
        base = None
    notes += general_suite_notes(records)

    rows = [_row_fields(entry, base) for entry in entries]
    for i in _frontier(rows):
        rows[i]["frontier"] = True
    if base is not None:
        _rank(rows)
    rows.sort(key=_order_key)
    return TrackTable(track=track, version=current_versions.get(track),
                      base=BASE_SUBMISSION if base is not None else None,
                      tasks=_task_infos(entries), rows=tuple(Row(**r) for r in rows), notes=tuple(notes))


def _row_fields(entry: _Entry, base: _Entry | None) -> dict:
    track, submission, point = entry.key
    first = entry.runs[0]
    reps, base_reps = entry.reps, base.reps if base is not None else None
    is_base = submission == BASE_SUBMISSION and point is None  # marked even when invalid

    def role(name: str) -> Estimate | None:
        return _estimate(reps.roles[name]) if name in reps.roles else None

    def role_delta(name: str) -> Estimate | None:
        if base_reps is None:
            return None
        if is_base:
            return Estimate(0.0, 0.0, 0.0) if name in reps.roles else None
        return _delta(reps.roles.get(name), base_reps.roles.get(name))

    tasks = []
    for name, est in reps.tasks.items():
        meta = next(run.tasks[name] for run in entry.runs if name in run.tasks)
        delta = None
        if base_reps is not None:
            delta = Estimate(0.0, 0.0, 0.0) if is_base else _delta(est, base_reps.tasks.get(name))
        tasks.append(TaskScore(name, meta.role, meta.metric, int(meta.n), _estimate(est), delta))

    used, caps = _mean_budget(entry.runs)
    reason = entry.invalid_reason
    return dict(
        track=track, submission=submission, description=first.description,
        method=first.method, hyperparameters=dict(first.hyperparameters),
        point=point, seeds=tuple(run.seed for run in entry.runs),
        domain=role("domain"), general=role("general"),
        domain_delta=role_delta("domain"), general_delta=role_delta("general"),
        total_delta=None if base_reps is None else _total(reps, base_reps, is_base),
        budget_used=used, budget_caps=caps, valid=reason is None, invalid_reason=reason,
        frontier=False, rank=None, tie_group=None, tie_size=0, is_base=is_base,
        tasks=tuple(tasks),
        runs=tuple(run_summary(run, r) for run, r in zip(entry.runs, entry.reasons)),
        selection=entry.selection,
    )


def run_summary(run: RunRecord, reason: str | None) -> RunSummary:
    """One run as the site lists it."""
    return RunSummary(run.seed, run.run_dir, run.status, reason, run.role_mean("domain"), run.role_mean("general"),
                      run.trial.label if run.trial is not None else None)


def score_runs(records: Iterable[RunRecord | Mapping], current_versions: Mapping[str, str],
               n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED) -> Leaderboard:
    """Score every track that has runs; tracks come in name order. Plain dicts are validated as RunRecords."""
    by_track: dict[str, list[RunRecord]] = defaultdict(list)
    for record in map(as_record, records):
        by_track[record.track].append(record)
    tracks = tuple(score_track(t, by_track[t], current_versions, n_boot, seed) for t in sorted(by_track))
    return Leaderboard(tracks=tracks, n_boot=n_boot, bootstrap_seed=seed)
