"""A study's claims (harness/schemas/studies.py `Claim`) decided by its runs. Pure: records in, verdicts out.

Each claim names a quantity over the study's entries: one entry's score, the difference of two entries'
scores, or their ratio, on the domain mean, the general mean, one task, or a training-curve summary
(`curve:NAME`, e.g. curve:chain_lead: one number per run, so only seeds are resampled). A study with track
variants reads each claim on the variant it names (`quantity.track`). The quantity gets a 95%
bootstrap interval from harness/bootstrap.py, resampled exactly as the leaderboard resamples
(`replicate_group` with the entry as its key): seeds per entry, then test items within each task. The
entries of a claim share one `ItemDraws`, so a difference or a ratio is paired over items; seeds are
resampled per entry, since separate trainings share nothing. A ratio is bootstrapped as the ratio of the
replicates, not derived from the two intervals.

The verdict is a rule on that interval (CLAIM_RULE); nothing else decides it, and a claim whose entries
have no valid runs is "not run", never a verdict.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.bootstrap import (BOOTSTRAP_SEED, N_BOOT, Estimated, ItemDraws, percentile_interval, replicate_group,
                               seed_mean)
from harness.record import RunRecord, as_record
from harness.schemas.studies import Claim
from harness.scoring import Estimate, invalid_reason
from harness.selection import choose_trial

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "reproduced", "contradicted", "inconclusive", "not run"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN)

CLAIM_RULE = (
    "Each claim is a rule 'quantity OP number' over a study's entries, where the quantity is one entry's score, "
    "the difference of two entries' scores or their ratio (domain mean, general mean or one task, in points "
    "0-100), or a training-curve summary such as curve:chain_lead. Its 95% interval comes from the leaderboard's "
    "bootstrap: seeds resampled per entry, then test items within each task, with the same item draws for every "
    "entry, so differences and ratios are paired over items (a ratio is bootstrapped as the ratio itself); a curve "
    "summary is one number per run, so only its seeds are resampled. The verdict is 'reproduced' when the whole interval lies on "
    "the claimed side of the number, 'contradicted' when the whole interval lies on the other side, and "
    "'inconclusive' otherwise. Only valid runs of the study's seeds count (finished, within budget, on the "
    "current track version); a claim whose entries have no valid run is 'not run'. No verdict is written by hand."
)
"""The verdict rule, stated once: the Reproductions page and the docs show this text."""

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_OTHER_SIDE = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def verdict(low: float, high: float, op: str, threshold: float) -> str:
    """The rule: the interval [low, high] entirely on the claimed side of `threshold` (reproduced), entirely on
    the other side (contradicted), or across it (inconclusive)."""
    claimed, other = _OPS[op], _OPS[_OTHER_SIDE[op]]
    if claimed(low, threshold) and claimed(high, threshold):
        return REPRODUCED
    if other(low, threshold) and other(high, threshold):
        return CONTRADICTED
    return INCONCLUSIVE


@dataclass(frozen=True)
class EntryScore:
    """One entry's score on the claim's metric, with its interval, over the seeds that counted."""

    entry: str
    score: Estimate
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class ClaimResult:
    """A claim and what the runs say about it."""

    claim: Claim
    study: str
    track: str
    quantity: str
    """The quantity as a formula, e.g. 'general(talr) - general(sft)'."""
    verdict: str
    """One of VERDICTS."""
    estimate: Estimate | None
    """The quantity with its 95% interval (None when not run)."""
    entries: tuple[EntryScore, ...]
    notes: tuple[str, ...]
    """Why a claim is not run, which runs were left out, an undefined ratio."""

    def to_json_dict(self) -> dict:
        return {
            "study": self.study, "track": self.track, **self.claim.model_dump(mode="json"),
            "formula": self.quantity, "verdict": self.verdict,
            "value": None if self.estimate is None else self.estimate.value,
            "ci": None if self.estimate is None else [self.estimate.low, self.estimate.high],
            "entries": [{"entry": e.entry, "value": e.score.value, "ci": [e.score.low, e.score.high],
                         "seeds": list(e.seeds)} for e in self.entries],
            "notes": list(self.notes),
        }


def entry_label(record: RunRecord) -> str:
    """How claims name an entry: the submission, or 'submission @ point' (as the leaderboard labels rows)."""
    return record.submission if record.point is None else f"{record.submission} @ {record.point}"


def _normalise(label: str) -> str:
    name, sep, point = label.partition("@")
    return f"{name.strip()} @ {point.strip()}" if sep else name.strip()


@dataclass(frozen=True)
class _Runs:
    runs: list[RunRecord]
    key: tuple
    notes: list[str]


def _entry_runs(records: list[RunRecord], label: str, current_versions: Mapping[str, str]) -> _Runs | None:
    """The entry's runs that count: its chosen trial (a sweep), valid ones only; None when it has no run at all."""
    mine = [r for r in records if entry_label(r) == label]
    if not mine:
        return None
    runs, selection = choose_trial(sorted(mine, key=lambda r: r.seed), lambda r: invalid_reason(r, current_versions))
    notes = []
    if selection is not None and selection.refused:
        return _Runs([], mine[0].entry, [f"{label}: sweep without a chosen trial ({selection.refused})"])
    valid = []
    for run in runs:
        reason = invalid_reason(run, current_versions)
        if reason is None:
            valid.append(run)
        else:
            notes.append(f"{label} seed {run.seed} left out: {reason}")
    return _Runs(valid, mine[0].entry, notes)


def _metric(runs: list[RunRecord], draws: ItemDraws, key: tuple, metric: str) -> Estimated | None:
    if metric.startswith("curve:"):
        return _curve_metric(runs, draws, key, metric.removeprefix("curve:"))
    group = replicate_group(runs, draws, key)
    if metric.startswith("task:"):
        return group.tasks.get(metric.removeprefix("task:"))
    return group.roles.get(metric)


def _curve_metric(runs: list[RunRecord], draws: ItemDraws, key: tuple, name: str) -> Estimated | None:
    """A curve summary (one number per run): the mean over seeds, replicates resampling the seeds only, with the
    same seed draws as the entry's scores. None when no run has it."""
    values = [float(r.curve_summary[name]) for r in runs if r.curve_summary and r.curve_summary.get(name) is not None]
    if not values:
        return None
    per_run = np.repeat(np.asarray(values)[:, None], draws.n_boot, axis=1)
    return Estimated(float(np.mean(values)), seed_mean(per_run, draws, key))


def _estimate(value: float, replicates: np.ndarray) -> Estimate:
    return Estimate(float(value), *percentile_interval(replicates))


def evaluate_claim(claim: Claim, records: Sequence[RunRecord], study: str, track: str,
                   current_versions: Mapping[str, str], draws: ItemDraws) -> ClaimResult:
    """One claim over the study's records (one track, the study's seeds)."""
    q = claim.quantity
    labels = {field: _normalise(name) for field, name in q.entries().items()}
    notes: list[str] = []
    scored: dict[str, Estimated] = {}
    entries: list[EntryScore] = []
    missing: list[str] = []
    for label in dict.fromkeys(labels.values()):
        found = _entry_runs(list(records), label, current_versions)
        if found is None:
            missing.append(f"{label}: no runs")
            continue
        notes += found.notes
        if not found.runs:
            missing.append(f"{label}: no valid run")
            continue
        est = _metric(found.runs, draws, found.key, q.metric)
        if est is None:
            missing.append(f"{label}: its runs have no {q.metric} score")
            continue
        scored[label] = est
        entries.append(EntryScore(label, _estimate(est.value, est.replicates), tuple(r.seed for r in found.runs)))

    def result(verdict_: str, estimate: Estimate | None) -> ClaimResult:
        return ClaimResult(claim, study, track, q.describe(), verdict_, estimate, tuple(entries), tuple(notes))

    if missing:
        notes[:0] = missing
        return result(NOT_RUN, None)
    a = scored[labels["entry"]]
    if q.minus is not None:
        b = scored[labels["minus"]]
        estimate = _estimate(a.value - b.value, a.replicates - b.replicates)
    elif q.over is not None:
        b = scored[labels["over"]]
        if b.value == 0 or np.any(b.replicates == 0):
            notes.append(f"{labels['over']} scores 0 in some replicate: the ratio is undefined there")
            return result(INCONCLUSIVE, None)
        estimate = _estimate(a.value / b.value, a.replicates / b.replicates)
    else:
        estimate = _estimate(a.value, a.replicates)
    op, threshold = claim.side
    return result(verdict(estimate.low, estimate.high, op, threshold), estimate)


def evaluate_claims(claims: Iterable[Claim], records: Iterable[RunRecord | Mapping], study: str, track: str,
                    current_versions: Mapping[str, str], seeds: Iterable[int] | None = None,
                    n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED) -> list[ClaimResult]:
    """Every claim of a study, decided by the study's runs: records of the claim's track (`quantity.track`, else
    `track`) and of `seeds`, when given."""
    wanted = None if seeds is None else set(seeds)
    mine = [r for r in map(as_record, records) if wanted is None or r.seed in wanted]
    results = []
    for claim in claims:
        on = claim.quantity.track or track
        draws = ItemDraws(on, n_boot=n_boot, seed=seed)  # one draw for every entry: pairs the items
        results.append(evaluate_claim(claim, [r for r in mine if r.track == on], study, on, current_versions, draws))
    return results


def verdict_counts(results: Iterable[ClaimResult]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        counts[r.verdict] += 1
    return {v: counts[v] for v in VERDICTS if counts[v]}


@dataclass(frozen=True)
class StudyClaims:
    """One study's claims and their results, as the Reproductions page and `harness study` show them."""

    study: str
    path: str
    """The study file, as the command to run it names it (relative to the repository when inside it)."""
    track: str
    seeds: tuple[int, ...]
    results: tuple[ClaimResult, ...]
    n_runs: int
    """Valid runs of the study's entries and seeds found in the runs directory."""
    run_seconds: float | None
    """Those runs' wall times summed (training once per training run, evaluation per point), None without runs."""

    @property
    def command(self) -> str:
        return f"harness study {self.path}"

    def to_json_dict(self) -> dict:
        return {"study": self.study, "path": self.path, "track": self.track, "seeds": list(self.seeds),
                "command": self.command, "n_runs": self.n_runs, "run_seconds": self.run_seconds,
                "claims": [r.to_json_dict() for r in self.results]}


def study_claims(study: str, path: str, track: str, claims: Sequence[Claim], seeds: Sequence[int],
                 entry_names: Sequence[str], records: Iterable[RunRecord | Mapping],
                 current_versions: Mapping[str, str], tracks: Sequence[str] | None = None) -> StudyClaims:
    """A study's claims decided by its runs: the records of its tracks (`tracks`: its track variants, else
    `track`), seeds and entries (`entry_names`: its submission names; a point's runs belong to their submission)."""
    names, wanted, on = set(entry_names), set(seeds), set(tracks or [track])
    mine = [r for r in map(as_record, records)
            if r.track in on and r.seed in wanted and r.submission in names]
    results = evaluate_claims(claims, mine, study, track, current_versions)
    valid = [r for r in mine if invalid_reason(r, current_versions) is None]
    return StudyClaims(study, path, track, tuple(seeds), tuple(results), len(valid),
                       _wall_seconds(valid) if valid else None)


def _wall_seconds(records: Sequence[RunRecord]) -> float:
    """The runs' wall time: every timed part (training, general suite, evaluation) summed, with a training that
    yields several points (wise-ft's alphas) counted once, not once per point."""
    training: dict[tuple, float] = {}
    rest = 0.0
    for r in records:
        timed = {k: float(v) for k, v in (r.wall_seconds or {}).items() if isinstance(v, (int, float))}
        key = (r.submission, r.trial.label if r.trial is not None else None, r.seed)
        training[key] = max(training.get(key, 0.0), timed.pop("train", 0.0))
        rest += sum(timed.values())
    return sum(training.values()) + rest
