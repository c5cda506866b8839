"""`harness compare A B` (print_comparison): is B better than A, task by task, beyond the noise?

Differences are B - A ("what B gains over A"), each with a 95% interval from a paired bootstrap:
A and B see the same resampled test items in every replicate (items keep their order across runs
of a track, docs/runs.md) while each side's seeds are resampled on their own. A difference is
significant when its interval excludes 0. The resampling is harness/bootstrap.py's, the same as
the leaderboard's, so the two never disagree about an interval.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.bootstrap import (
    BOOTSTRAP_SEED,
    N_BOOT,
    Estimated,
    ItemDraws,
    percentile_interval,
    replicate_group,
)
from harness.paths import path_component, path_under
from harness.selection import choose_trial
from harness.record import RunRecord, as_record
from harness.render.load import METRICS, read_metrics, seed_dirs


class CompareError(ValueError):
    """A side that cannot be resolved or compared; the message says what to pass instead."""


@dataclass(frozen=True)
class CompareRow:
    name: str
    """A task name, or "domain" / "general" for the role means."""
    role: str
    a: float
    b: float
    diff: float
    """b - a, in points."""
    low: float
    high: float
    n_items: int | None
    """Test items of a task (None for the role rows)."""

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class CompareResult:
    a: str
    b: str
    track: str
    seeds_a: tuple[int, ...]
    seeds_b: tuple[int, ...]
    rows: tuple[CompareRow, ...]
    """Shared tasks (domain first), then the "domain" and "general" means."""
    warnings: tuple[str, ...]
    direction: str = "b - a"
    n_boot: int = N_BOOT


def _side_label(records: Sequence[RunRecord]) -> str:
    names = sorted({r.submission for r in records})
    points = sorted({r.point for r in records if r.point is not None})
    return ", ".join(names) + (f" @ {', '.join(points)}" if points else "")


def _check_side(records: Sequence[RunRecord], side: str) -> list[str]:
    if not records:
        raise CompareError(f"side {side} has no runs")
    entries = {r.entry for r in records}
    if len(entries) > 1:
        listed = ", ".join(sorted(f"{t}/{s}" + (f" @ {p}" if p is not None else "") for t, s, p in entries))
        raise CompareError(f"side {side} mixes several entries ({listed}); pick one submission (and point)")
    notes = []
    for r in records:
        if r.status != "ok":
            notes.append(f"{side} seed {r.seed}: status {r.status}, left out")
        elif r.budget is not None and r.budget.within_budget is False:
            notes.append(f"{side} seed {r.seed}: over budget, kept but would be invalid on the leaderboard")
    return notes


def _chosen_trial(records: Sequence[RunRecord | dict], side: str) -> list[RunRecord]:
    """A side's runs; for a sweep entry, only the trial chosen on validation (harness/selection.py), as ranked."""
    runs, selection = choose_trial([as_record(r) for r in records], lambda r: None if r.scored else f"status {r.status}")
    if selection is not None and selection.refused:
        raise CompareError(f"side {side} is a sweep with no chosen trial: {selection.refused}")
    return runs


def _row(name: str, role: str, a: Estimated, b: Estimated, n_items: int | None) -> CompareRow:
    low, high = percentile_interval(b.replicates - a.replicates)
    return CompareRow(name, role, a.value, b.value, b.value - a.value, low, high, n_items)


def _n_items(records: Sequence[RunRecord], task: str) -> set[int]:
    return {len(r.tasks[task].item_scores) for r in records if task in r.tasks}


def compare(records_a: Sequence[RunRecord | dict], records_b: Sequence[RunRecord | dict],
            n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED) -> CompareResult:
    """Compare two entries (each: its runs over seeds). Pure; raises CompareError on unusable input.

    Plain dicts are validated as RunRecords (harness/record.py)."""
    records_a, records_b = _chosen_trial(records_a, "A"), _chosen_trial(records_b, "B")
    warnings = _check_side(records_a, "A") + _check_side(records_b, "B")
    ok_a = [r for r in records_a if r.scored]
    ok_b = [r for r in records_b if r.scored]
    if not ok_a or not ok_b:
        raise CompareError(f"side {'A' if not ok_a else 'B'} has no finished run with task scores")

    track_a, track_b = ok_a[0].track, ok_b[0].track
    if track_a != track_b:
        warnings.append(f"A is on track {track_a} and B on {track_b}: test items may differ, so pairing may not hold")
    if {r.track_version for r in ok_a} != {r.track_version for r in ok_b}:
        warnings.append("A and B were scored on different track versions: test items may differ")

    # One set of item draws for both sides: this is what makes the bootstrap paired.
    draws = ItemDraws(track_a, n_boot=n_boot, seed=seed)
    reps_a = replicate_group(ok_a, draws, ok_a[0].entry)
    reps_b = replicate_group(ok_b, draws, ok_b[0].entry)

    shared = [t for t in reps_a.tasks if t in reps_b.tasks]
    for only, side in ((set(reps_a.tasks) - set(shared), "A"), (set(reps_b.tasks) - set(shared), "B")):
        if only:
            warnings.append(f"only {side} has task(s) {', '.join(sorted(only))}: not compared")

    roles = {t: next(r.tasks[t].role for r in ok_a if t in r.tasks) for t in shared}
    rows = []
    for task in sorted(shared, key=lambda t: (roles[t] != "domain", t)):
        sizes = _n_items(ok_a, task) | _n_items(ok_b, task)
        if len(sizes) > 1:
            warnings.append(f"task {task}: item counts differ ({', '.join(map(str, sorted(sizes)))}), not paired")
        rows.append(_row(task, roles[task], reps_a.tasks[task], reps_b.tasks[task], max(sizes)))
    for role in ("domain", "general"):
        if role in reps_a.roles and role in reps_b.roles:
            rows.append(_row(role, role, reps_a.roles[role], reps_b.roles[role], None))

    return CompareResult(
        a=_side_label(records_a), b=_side_label(records_b), track=track_a,
        seeds_a=tuple(r.seed for r in ok_a), seeds_b=tuple(r.seed for r in ok_b),
        rows=tuple(rows), warnings=tuple(warnings), n_boot=n_boot,
    )


def render_compare_table(result: CompareResult) -> Table:
    """A rich table; names are wrapped in Text so that "[bold]" in a submission name stays literal."""
    table = Table(title=Text(f"{result.b}  minus  {result.a}  on {result.track}"),
                  caption=Text(f"seeds A {list(result.seeds_a)}, B {list(result.seeds_b)}; "
                               f"95% paired bootstrap, {result.n_boot} replicates"))
    for name, justify in (("task", "left"), ("role", "left"), ("A", "right"), ("B", "right"),
                          ("B - A", "right"), ("95% CI", "right"), ("significant", "left")):
        # wrap, never cut: a long task name folds onto further lines at 80 columns; numbers stay whole
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name not in ("task", "role", "significant"))
    previous = None
    for row in result.rows:
        is_mean = row.n_items is None
        if is_mean and previous is not None and previous.n_items is not None:
            table.add_section()  # a rule between the tasks and the role means
        previous = row
        style = ("green" if row.diff > 0 else "red") if row.significant else ""
        table.add_row(Text(row.name, style="bold" if is_mean else ""), Text("mean" if is_mean else row.role),
                      f"{row.a:.1f}", f"{row.b:.1f}", Text(f"{row.diff:+.1f}", style=style),
                      f"[{row.low:+.1f}, {row.high:+.1f}]", Text("yes" if row.significant else "no", style=style))
    return table


def compare_to_json(result: CompareResult) -> str:
    data = dataclasses.asdict(result)
    for row, out in zip(result.rows, data["rows"]):
        out["significant"] = row.significant
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _records_in(directory: Path) -> list[RunRecord]:
    if (directory / METRICS).is_file():
        return [read_metrics(directory)]
    return [read_metrics(d) for d in seed_dirs(directory)]


def resolve_side(arg: str, runs_dir: Path, track: str | None) -> list[RunRecord]:
    """A side of a comparison: a run directory (a seed dir or a submission dir with seed*/), or a
    submission name looked up under runs_dir/<track>/<name>/; without a track the name must be unique."""
    path = Path(arg)
    if path.is_dir():
        records = _records_in(path)
        if not records:
            raise CompareError(f"{path} holds no finished run (no {METRICS} in it or in its seed*/ folders)")
        return records

    runs_dir = Path(runs_dir)
    # Folder names are escaped names (harness/paths.py): look the names up the way the runner stored them.
    tracks = [path_component(track)] if track else sorted(p.name for p in runs_dir.glob("*") if p.is_dir())
    name = path_component(arg)
    found = {t: _records_in(runs_dir / t / name) for t in tracks if (runs_dir / t / name).is_dir()}
    found = {t: records for t, records in found.items() if records}
    if not found:
        where = f"{runs_dir}/{track}/" if track else f"any track under {runs_dir}/"
        raise CompareError(f"no finished runs of {arg!r} in {where} (and no directory of that name)")
    if len(found) > 1:
        raise CompareError(f"{arg!r} has runs on several tracks ({', '.join(sorted(found))}): pass --track")
    return next(iter(found.values()))


def _baseline_sides(a_records: list[RunRecord], runs_dir: Path,
                    baseline_names: Sequence[str]) -> list[list[RunRecord]]:
    """Every baseline entry on A's track: named in baseline_names, or marked "baseline": true."""
    track_dir = path_under(runs_dir, a_records[0].track)
    own = {r.submission for r in a_records}
    sides = []
    for submission_dir in sorted(p for p in track_dir.glob("*") if p.is_dir()):
        records = _records_in(submission_dir)
        if not records or records[0].submission in own:
            continue
        if records[0].submission in baseline_names or any(r.baseline for r in records):
            sides.append(records)
    return sides


def print_comparison(a: str, b: str | None, runs_dir: Path, track: str | None, baselines: bool, as_json: bool,
                baseline_names: Sequence[str] = (), console: Console | None = None) -> int:
    """`harness compare A [B] [--baselines] [--json]`: prints the comparison; returns the exit code.

    With --baselines, A is compared against every baseline of its track, each shown as A minus
    the baseline. Exit code 2 with a message on stderr for arguments that cannot be resolved.
    """
    console = console or Console()
    try:
        if (b is None) == (not baselines):
            raise CompareError("give either B or --baselines (exactly one)")
        a_records = resolve_side(a, runs_dir, track)
        if baselines:
            sides = _baseline_sides(a_records, runs_dir, baseline_names)
            if not sides:
                raise CompareError(f"no baseline runs on track {a_records[0].track} under {runs_dir}")
            results = [compare(side, a_records) for side in sides]
        else:
            results = [compare(a_records, resolve_side(b, runs_dir, track))]
    except CompareError as err:
        print(f"harness compare: {err}", file=sys.stderr)
        return 2

    if as_json:
        # Plain stdout, not rich: JSON is for programs, and a terminal console would add colour codes.
        if baselines:
            sys.stdout.write(json.dumps([json.loads(compare_to_json(r)) for r in results], indent=2,
                                        ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(compare_to_json(results[0]))
        return 0
    for result in results:
        console.print(render_compare_table(result))
        for warning in result.warnings:
            console.print(Text(f"note: {warning}", style="yellow"))
    return 0
