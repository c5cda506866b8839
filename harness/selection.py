"""Choosing a sweep's trial on validation. Pure: run records in, the chosen trial out; no file reads, no torch.

A sweep (harness/sweep.py) is one leaderboard entry whose runs carry a `trial` (harness.record.Trial).
`choose_trial` reads only each run's `validation` scores (metrics.json, split "validation"), never its
test scores, so the test items cannot enter the choice; the scorer then ranks the chosen trial's test
scores alone (harness/scoring.py).

The selection score of a trial is the mean over its seeds of
- "S" (the default): validation domain + validation general, each the mean of its role's task scores;
- "domain": validation domain alone.
Every trial is compared against the same base model, so argmax of (domain + general) on validation is
argmax of the delta sum S = (domain - base domain) + (general - base general) the leaderboard ranks by:
the base's scores are a constant shift. A role a track does not have adds 0.

Eligible trials: every one of its runs counts (harness.scoring.invalid_reason is None) and holds validation
scores. Ties in the selection score go to the trial listed first in the submission (lowest index), so the
choice is deterministic. The choice is refused (the entry is invalid, with the reason) when not every trial
of the sweep has run, when trials ran on different seeds, or when no trial is eligible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.record import RunRecord

SELECTION_RULE = (
    "A submission with list-valued hyperparameters is one entry: every combination of values (a trial) is "
    "trained on the track's seeds and scored on the track's validation items, which are disjoint from the "
    "test items and the training data. The trial with the best mean validation score over the seeds "
    "(S = domain + general, or the domain score alone where the track says so) is chosen, ties going to the "
    "trial listed first; only the chosen trial's test scores are shown and ranked. Test items never enter the "
    "choice. The other trials are listed with their validation scores and never ranked."
)
"""The selection rule, stated once: the site shows this text."""


@dataclass(frozen=True)
class TrialScore:
    """One trial of an entry as the site and leaderboard.json list it."""

    label: str
    index: int
    values: dict[str, Any]
    seeds: tuple[int, ...]
    validation: float | None
    """Mean over seeds of the selection score on validation; None when the trial is not eligible."""
    validation_domain: float | None
    validation_general: float | None
    chosen: bool
    invalid_reason: str | None
    run_dirs: tuple[str | None, ...]


@dataclass(frozen=True)
class Selection:
    """The outcome of choosing one trial of a sweep entry."""

    metric: str
    n_trials: int
    """Trials in the sweep (as the submission declared them)."""
    chosen: TrialScore | None
    trials: tuple[TrialScore, ...]
    """Every trial, in submission order (the chosen one marked)."""
    refused: str | None
    """Why no trial could be chosen (the entry is then invalid), else None."""

    @property
    def chosen_values(self) -> dict[str, Any] | None:
        return dict(self.chosen.values) if self.chosen is not None else None


def _mean(values: list[float | None]) -> float | None:
    return sum(values) / len(values) if values and all(v is not None for v in values) else None  # type: ignore[misc]


def selection_score(run: RunRecord, metric: str) -> float | None:
    """One run's validation score under the metric; None without validation scores."""
    if not run.validation:
        return None
    domain, general = run.validation_mean("domain"), run.validation_mean("general")
    if metric == "domain":
        return domain
    if metric != "S":
        raise ValueError(f"unknown selection metric {metric!r}; known: S, domain")
    parts = [v for v in (domain, general) if v is not None]
    return sum(parts) if parts else None


def choose_trial(runs: list[RunRecord], invalid: Callable[[RunRecord], str | None]) -> tuple[list[RunRecord], Selection | None]:
    """The runs the entry's row is built from and, for a sweep, the selection.

    `runs` are one entry's runs; `invalid` gives a run's invalid reason (None when it counts). Without a
    trial run the entry is plain: all its runs, no selection. With a choice, the chosen trial's runs;
    when the choice is refused, every run (the row is invalid with `Selection.refused`).
    """
    if not any(r.trial is not None for r in runs):
        return runs, None
    if any(r.trial is None for r in runs):
        plain = sorted(str(r.seed) for r in runs if r.trial is None)
        return runs, Selection("S", 0, None, (), f"a plain run (seeds {', '.join(plain)}) and sweep trials share this "
                               "entry's name; rename one of the two submissions")
    by_label: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_label[run.trial.label].append(run)
    first = min(runs, key=lambda r: r.trial.index).trial
    metric, count = first.select_by, max(r.trial.count for r in runs)
    trials = []
    for label, trial_runs in sorted(by_label.items(), key=lambda kv: kv[1][0].trial.index):
        trial_runs.sort(key=lambda r: r.seed)
        reasons = [(r.seed, invalid(r)) for r in trial_runs]
        bad = "; ".join(f"seed {s}: {why}" for s, why in reasons if why)
        missing = [str(r.seed) for r in trial_runs if not r.validation]
        reason = bad or (f"no validation scores (seeds {', '.join(missing)}); rerun on a track with a validation set"
                         if missing else None)
        scores = [selection_score(r, metric) for r in trial_runs]
        t = trial_runs[0].trial
        trials.append(TrialScore(
            label=label, index=t.index, values=dict(t.values), seeds=tuple(r.seed for r in trial_runs),
            validation=None if reason else _mean(scores),
            validation_domain=_mean([r.validation_mean("domain") for r in trial_runs]) if not missing else None,
            validation_general=_mean([r.validation_mean("general") for r in trial_runs]) if not missing else None,
            chosen=False, invalid_reason=reason, run_dirs=tuple(r.run_dir for r in trial_runs)))
    refused = None
    if len(trials) < count:
        refused = f"only {len(trials)} of the sweep's {count} trials have run; run the rest before one is chosen"
    elif len({t.seeds for t in trials}) > 1:
        refused = ("the trials ran on different seeds (" + "; ".join(f"{t.label}: {list(t.seeds)}" for t in trials)
                   + "); run every trial on the same seeds")
    eligible = [t for t in trials if t.validation is not None]
    if refused is None and not eligible:
        refused = "no trial has valid runs with validation scores: " + "; ".join(
            f"{t.label}: {t.invalid_reason}" for t in trials)
    if refused is not None:
        return runs, Selection(metric, count, None, tuple(trials), refused)
    best = max(eligible, key=lambda t: (t.validation, -t.index))  # ties: the trial listed first
    trials = [TrialScore(**{**t.__dict__, "chosen": t is best}) for t in trials]
    chosen = next(t for t in trials if t.chosen)
    return by_label[chosen.label], Selection(metric, count, chosen, tuple(trials), None)
