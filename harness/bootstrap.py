"""Bootstrap replicates of run scores: the one home of the resampling that scoring and compare share.

A score's uncertainty has two sources: which test items the track happened to draw, and which
training seed the run happened to get. One replicate resamples both, seeds first and then items
within each task, so an interval covers both kinds of luck.

Pairing: items keep the same order in every run of a track (docs/runs.md), so the item draw for
a task depends only on (track, task, number of items, replicate), never on the submission. Two
entries scored with the same `ItemDraws` therefore see the same resampled items in every
replicate, and the difference of their replicates is a paired bootstrap of their difference.
Seeds are resampled independently per entry: separate trainings share nothing.

Every draw comes from a generator seeded by a fixed seed plus a CRC of a stable key, so results
are deterministic and adding a submission never changes another entry's interval.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.record import RunRecord, TaskMetrics

N_BOOT = 1000
"""Replicates per interval: enough for stable 2.5/97.5 percentiles (about +-0.3 points at n=200),
cheap enough to score hundreds of runs in a second."""

BOOTSTRAP_SEED = 0
"""Fixed so that rebuilding the leaderboard from the same runs gives the same intervals."""

CONFIDENCE = 0.95


def _rng(seed: int, *key: object) -> np.random.Generator:
    digest = zlib.crc32("\0".join(str(part) for part in key).encode())
    return np.random.default_rng([seed, digest])


ROLES = ("domain", "general")
"""Task roles (docs/runs.md); a role's score is the mean of its tasks' scores."""


def percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
    """The central CONFIDENCE interval of the replicates (percentile bootstrap)."""
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


@dataclass
class ItemDraws:
    """Resampled item indices per (task, item count), shared by every run of one track.

    Keyed by the item count as well as the task so that a run scored on a different test set
    (an older track version) still gets a valid, if unpaired, draw instead of an index error.
    """

    track: str
    n_boot: int = N_BOOT
    seed: int = BOOTSTRAP_SEED
    _cache: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)

    def indices(self, task: str, n_items: int) -> np.ndarray:
        """An (n_boot, n_items) array of item indices drawn with replacement."""
        key = (task, n_items)
        if key not in self._cache:
            rng = _rng(self.seed, "items", self.track, task, n_items)
            self._cache[key] = rng.integers(0, n_items, size=(self.n_boot, n_items))
        return self._cache[key]


def task_replicates(task_metrics: TaskMetrics, draws: ItemDraws, task: str) -> np.ndarray:
    """Replicates of one run's headline score on one task, in points (0-100).

    The replicate is the mean of the resampled `item_scores`, shifted by the gap between the
    headline score and the plain item mean. For mean-type metrics (avg@k, accuracy) the gap is
    zero and this is the ordinary percentile bootstrap; for a metric that is not an item mean
    (balanced accuracy) it keeps the interval centred on the reported score, an approximation
    that is better than no interval. A task without item scores gets no item uncertainty.
    """
    score = float(task_metrics.score)
    items = np.asarray(task_metrics.item_scores, dtype=float)
    if items.size == 0:
        return np.full(draws.n_boot, score)
    offset = score - 100 * items.mean()
    return 100 * items[draws.indices(task, items.size)].mean(axis=1) + offset


def seed_mean(per_run: np.ndarray, draws: ItemDraws, key: tuple) -> np.ndarray:
    """Mean over resampled seeds: per_run is (runs, n_boot); returns (n_boot,).

    The draw depends on the entry and the number of runs only, so an entry's tasks and roles
    resample the same seeds in a replicate: a seed that gained more on the domain and lost more
    elsewhere moves both, and the sum of the two keeps that correlation.
    """
    n_runs = per_run.shape[0]
    picks = _rng(draws.seed, "seeds", *key, n_runs).integers(0, n_runs, size=(draws.n_boot, n_runs))
    return per_run[picks, np.arange(draws.n_boot)[:, None]].mean(axis=1)


@dataclass(frozen=True)
class Estimated:
    """A point estimate and its bootstrap replicates (n_boot,)."""

    value: float
    replicates: np.ndarray


@dataclass(frozen=True)
class GroupReplicates:
    """Estimates for one entry (its runs over seeds): per task and per role ("domain", "general")."""

    tasks: dict[str, Estimated]
    roles: dict[str, Estimated]
    n_runs: int


def replicate_group(runs: Sequence[RunRecord], draws: ItemDraws, key: tuple) -> GroupReplicates:
    """Point estimates (mean over seeds) and replicates for one entry.

    `runs` are the entry's scored runs (one per seed); `key` is the
    entry, (track, submission, point), so that its seed draws are its own. Scoring and compare
    pass the same key, so `harness compare base X` prints the leaderboard's delta interval.
    A role's replicate averages the role's tasks within each run first, then the resampled
    seeds: the same order as its point estimate.
    """
    runs = [run for run in runs if run.tasks]
    if not runs:
        return GroupReplicates(tasks={}, roles={}, n_runs=0)

    per_run = [{task: task_replicates(m, draws, task) for task, m in sorted(run.tasks.items())} for run in runs]

    tasks: dict[str, Estimated] = {}
    for task in sorted({task for run in runs for task in run.tasks}):
        having = [i for i, run in enumerate(runs) if task in run.tasks]
        value = float(np.mean([runs[i].tasks[task].score for i in having]))
        reps = seed_mean(np.stack([per_run[i][task] for i in having]), draws, key)
        tasks[task] = Estimated(value, reps)

    roles: dict[str, Estimated] = {}
    for role in ROLES:
        having = [i for i, run in enumerate(runs) if run.role_mean(role) is not None]
        if not having:
            continue
        value = float(np.mean([runs[i].role_mean(role) for i in having]))
        run_reps = [
            np.mean([per_run[i][t] for t, m in runs[i].tasks.items() if m.role == role], axis=0)
            for i in having
        ]
        roles[role] = Estimated(value, seed_mean(np.stack(run_reps), draws, key))
    return GroupReplicates(tasks=tasks, roles=roles, n_runs=len(runs))
