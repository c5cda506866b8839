"""Tables of cells built from scored rows: the one shape that HTML, CSV, JSON and Markdown all view.

Following HELM's Table/Cell/HeaderCell: a cell carries a machine value (for sorting and the
CSV/JSON exports), a display string (for people), and optionally an interval and links. Building
a table decides what is shown; the views in export.py and the templates only decide how. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.record import capped_measure
from harness.scoring import Estimate, Leaderboard, Row, RunSummary, TrackTable


@dataclass(frozen=True)
class HeaderCell:
    key: str
    """Column name in the CSV/JSON exports: stable, lower_snake_case."""
    label: str
    description: str = ""
    lower_is_better: bool | None = None
    """None for columns that are not a quantity to be better or worse at."""


@dataclass(frozen=True)
class Cell:
    value: object
    """JSON-able: a number, a string, a bool, None, or a dict/list of those."""
    display: str
    detail: str = ""
    """Secondary text shown under (HTML) or after (Markdown) the display: an interval, a reason."""
    ci: tuple[float, float] | None = None
    href: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    """(text, href) pairs shown after the display text, e.g. one link per seed."""
    title: str | None = None
    """Hover text."""
    more: str = ""
    """Text behind a disclosure (HTML: <details>), e.g. the full resolved hyperparameters; the exports skip it."""


@dataclass(frozen=True)
class Table:
    key: str
    """File-name part of the exports, e.g. "leaderboard"."""
    title: str
    header: tuple[HeaderCell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    row_kinds: tuple[str, ...] = ()
    """Per row "base", "invalid" or "": a styling hint for HTML, ignored by the exports."""


EMPTY = Cell(None, "")


def fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return ""
    return f"{x:+.1f}" if signed else f"{x:.1f}"


def estimate_cell(est: Estimate | None, signed: bool = False) -> Cell:
    if est is None:
        return EMPTY
    return Cell(est.value, fmt(est.value, signed), detail=f"[{fmt(est.low, signed)}, {fmt(est.high, signed)}]",
                ci=(est.low, est.high))


def _hp_text(hp: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(hp.items()))


def _hyperparameters(hp: dict, defaults: dict | None = None) -> Cell:
    """The value is the full resolved set; the display only what differs from `defaults` (what the method gets on
    this track when a submission sets nothing), the full set behind a disclosure. Without defaults: everything."""
    if defaults is None or not hp:
        return Cell(dict(sorted(hp.items())), _hp_text(hp))
    changed = {k: v for k, v in hp.items() if k not in defaults or defaults[k] != v}
    return Cell(dict(sorted(hp.items())), _hp_text(changed) or "defaults", more=_hp_text(hp) if hp else "")


def _budget(row: Row) -> Cell:
    """The share used of each capped quantity: the cap is what makes the number comparable."""
    capped = [(capped_measure(k), row.budget_used[capped_measure(k)], cap) for k, cap in row.budget_caps.items()
              if cap and capped_measure(k) in row.budget_used]
    return Cell(row.budget_used, "; ".join(f"{used / cap:.0%} {k}" for k, used, cap in capped),
                title="; ".join(f"{k}: {used:,.0f} of {cap:,.0f} (mean over seeds)" for k, used, cap in capped) or None)


def _submission(row: Row) -> Cell:
    """The entry's name; a sweep says how many trials it ran and which values validation chose; a point of a
    multi-point run (wise-ft's alphas) says it shares one training run."""
    if row.selection is not None:
        chosen = row.selection.chosen
        detail = (f"{row.n_trials} trials, chosen on validation: {chosen.label}" if chosen is not None
                  else f"{row.n_trials} trials, none chosen")
        return Cell(row.label, row.label, detail=detail,
                    title="a sweep is one entry: only the trial chosen on validation is scored and ranked; every "
                          "trial is listed under Sweeps")
    if row.point is None:
        return Cell(row.label, row.label)
    return Cell(row.label, row.label, detail=f"{row.method} point of one training run",
                title=f"{row.point}: one of several points evaluated from a single {row.method} training run "
                      "(same training and budget); each point is scored and ranked as its own entry")


def _rank(row: Row) -> Cell:
    if row.rank is None:
        return Cell(None, "")
    tied = row.tie_size > 1
    title = f"tie group {row.tie_group}: {row.tie_size} entries" if tied else f"tie group {row.tie_group}"
    return Cell(row.rank, f"{row.rank}=" if tied else str(row.rank), title=title)


def _status(row: Row) -> Cell:
    if row.valid:
        return Cell("valid", "valid")
    return Cell("invalid", "invalid", detail=row.invalid_reason or "")


def row_kind(row: Row) -> str:
    return "invalid" if not row.valid else "base" if row.is_base else ""


RunHref = Callable[[Row, RunSummary], "str | None"]
Defaults = Callable[[str, str], "dict | None"]
"""(track, method) -> the method's resolved hyperparameters on that track when a submission sets none, or None."""
Summary = Callable[[str], str]
"""method -> its one-line description."""


def _no_href(row: Row, run: RunSummary) -> None:
    return None


LEADERBOARD_HEADER = (
    HeaderCell("number", "#", "position in this table; the scatter plot labels points with it"),
    HeaderCell("rank", "rank", "rank by S; '=' marks a tie group of several entries", lower_is_better=True),
    HeaderCell("submission", "submission"),
    HeaderCell("status", "status", "invalid entries are not ranked and not on the frontier"),
    HeaderCell("domain", "domain", "mean of domain task scores, 0-100, with 95% interval", lower_is_better=False),
    HeaderCell("general", "general", "mean of general task scores, 0-100, with 95% interval", lower_is_better=False),
    HeaderCell("domain_delta", "domain Δ", "domain minus the base model's, paired 95% interval", lower_is_better=False),
    HeaderCell("general_delta", "general Δ", "general minus the base model's, paired 95% interval",
               lower_is_better=False),
    HeaderCell("total_delta", "S = Σ Δ", "domain Δ + general Δ: the rank quantity", lower_is_better=False),
    HeaderCell("frontier", "frontier", "on the Pareto frontier of (domain, general) among valid entries"),
    HeaderCell("budget_used", "budget used", "share used of each capped quantity, mean over seeds"),
    HeaderCell("seeds", "seeds", "one run per seed; each links to its run page"),
    HeaderCell("method", "method", "the method and what it does"),
    HeaderCell("hyperparameters", "hyperparameters",
               "settings that differ from the method's defaults on this track; the full set behind 'all'"),
    HeaderCell("description", "description"),
)


def _no_defaults(track: str, method: str) -> None:
    return None


def _no_summary(method: str) -> str:
    return ""


def leaderboard_table(track: TrackTable, run_href: RunHref = _no_href, defaults: Defaults = _no_defaults,
                      summary: Summary = _no_summary) -> Table:
    rows = []
    for number, row in enumerate(track.rows, start=1):
        rows.append((
            Cell(number, str(number)),
            _rank(row),
            _submission(row),
            _status(row),
            estimate_cell(row.domain),
            estimate_cell(row.general),
            estimate_cell(row.domain_delta, signed=True),
            estimate_cell(row.general_delta, signed=True),
            estimate_cell(row.total_delta, signed=True),
            Cell(row.frontier, "yes" if row.frontier else ""),
            _budget(row),
            Cell(list(row.seeds), ", ".join(str(seed) for seed in row.seeds),
                 links=tuple((str(run.seed), href) for run in row.runs if (href := run_href(row, run)))),
            Cell(row.method, row.method, detail=summary(row.method)),
            _hyperparameters(row.hyperparameters, defaults(row.track, row.method)),
            Cell(row.description, row.description),
        ))
    return Table("leaderboard", f"{track.track}: leaderboard", LEADERBOARD_HEADER, tuple(rows),
                 tuple(row_kind(r) for r in track.rows))


def trials_table(row: Row, run_href: RunHref = _no_href) -> Table:
    """A sweep entry's trials: their values, validation scores (the choice's only input) and run pages."""
    sel = row.selection
    header = (
        HeaderCell("trial", "trial", "the swept values, in submission order"),
        HeaderCell("chosen", "chosen", "the trial with the best mean validation score (ties: listed first)"),
        HeaderCell("validation", f"validation {sel.metric}", "mean over seeds of the selection score on validation "
                   "items, 0-100 per role", lower_is_better=False),
        HeaderCell("validation_domain", "validation domain", lower_is_better=False),
        HeaderCell("validation_general", "validation general", lower_is_better=False),
        HeaderCell("seeds", "seeds", "one run per seed; each links to its run page"),
        HeaderCell("status", "status", "why a trial could not be chosen"),
    )
    rows = []
    for t in sel.trials:
        links = tuple((str(seed), href) for seed in t.seeds
                      if (href := run_href(row, RunSummary(seed, None, "", None, None, None, t.label))))
        rows.append((
            Cell(t.label, t.label), Cell(t.chosen, "chosen" if t.chosen else ""),
            Cell(t.validation, fmt(t.validation)), Cell(t.validation_domain, fmt(t.validation_domain)),
            Cell(t.validation_general, fmt(t.validation_general)),
            Cell(list(t.seeds), ", ".join(map(str, t.seeds)), links=links),
            Cell("ok" if t.invalid_reason is None else "invalid", "" if t.invalid_reason is None else "invalid",
                 detail=t.invalid_reason or ""),
        ))
    return Table("trials", f"{row.label}: {sel.n_trials} trials", header, tuple(rows),
                 tuple("invalid" if t.invalid_reason else "" for t in sel.trials))


def task_table(track: TrackTable) -> Table:
    """Per-task scores and deltas: where an entry's gain or loss comes from."""
    header = [HeaderCell("number", "#"), HeaderCell("submission", "submission")]
    for info in track.tasks:
        header.append(HeaderCell(info.name, f"{info.name} ({info.role})",
                                 f"{info.metric}, 0-100, with 95% interval", lower_is_better=False))
        header.append(HeaderCell(f"{info.name}_delta", f"{info.name} Δ",
                                 "minus the base model's, paired 95% interval", lower_is_better=False))
    rows = []
    for number, row in enumerate(track.rows, start=1):
        by_task = {t.task: t for t in row.tasks}
        cells = [Cell(number, str(number)), Cell(row.label, row.label)]
        for info in track.tasks:
            result = by_task.get(info.name)
            cells.append(estimate_cell(result.score) if result else EMPTY)
            cells.append(estimate_cell(result.delta, signed=True) if result else EMPTY)
        rows.append(tuple(cells))
    return Table("tasks", f"{track.track}: per task", tuple(header), tuple(rows),
                 tuple(row_kind(r) for r in track.rows))


def tracks_table(board: Leaderboard, track_href: Callable[[str], str]) -> Table:
    """The index: one line per track with its leaders (tie group 1)."""
    header = (
        HeaderCell("track", "track"),
        HeaderCell("version", "version", "current track version; runs of other versions are invalid"),
        HeaderCell("entries", "entries", "submissions (and points) with at least one run"),
        HeaderCell("invalid", "invalid", "entries listed but not ranked"),
        HeaderCell("leaders", "rank 1", "the entries of tie group 1"),
        HeaderCell("base_domain", "base domain", lower_is_better=False),
        HeaderCell("base_general", "base general", lower_is_better=False),
    )
    rows = []
    for track in board.tracks:
        leaders = [r.label for r in track.rows if r.tie_group == 1]
        base = next((r for r in track.rows if r.is_base), None)
        rows.append((
            Cell(track.track, track.track, href=track_href(track.track)),
            Cell(track.version, track.version or ""),
            Cell(len(track.rows), str(len(track.rows))),
            Cell(sum(not r.valid for r in track.rows), str(sum(not r.valid for r in track.rows))),
            Cell(leaders, ", ".join(leaders)),
            estimate_cell(base.domain if base else None),
            estimate_cell(base.general if base else None),
        ))
    return Table("tracks", "tracks", header, tuple(rows))

