"""The static leaderboard site: scored rows -> HTML pages, inline SVG plots and table exports.

One self-contained folder that opens from file:// (no CDN, no fetch, no external file; CSS and
the sorting script are inline). Rebuilding from the same runs gives byte-identical files: the
only clock reading is the generation note, pinned by `generated_at` or SOURCE_DATE_EPOCH.

Layout of out_dir:
    index.html                           tracks, the rank rule, leaderboard.json
    reproductions.html                   the papers' claims and their verdicts (linked from every page)
    reproductions.{csv,json,md}          export of that table; reproductions.claims.json: every claim result
    track-<track>.html                   table, scatter, per-task table, invalid entries
    track-<track>.<table>.{csv,json,md}  exports of that page's tables
    tracks.{csv,json,md}                 export of the index table
    leaderboard.json                     every scored row with all fields
    runs/<track>/<submission>[/<point>]/seed<N>.html
Names are slugged (runs.md: submission names are untrusted) by harness.paths.path_component with "~"
escapes: plain names stay as they are, two names never share a page, and no page leaves out_dir.
Files from an earlier build that no longer correspond to a run are left in place.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import markupsafe

from harness import __version__
from harness.errors import ConfigError
from harness.paths import path_component
from harness.record import Budget, RunRecord, as_record
from harness.claims import CLAIM_RULE, StudyClaims
from harness.render import export, load, plot, reproductions as repro, tables
from harness.scoring import RANK_RULE, Leaderboard, Row, RunSummary, TrackTable, run_summary, score_runs
from harness.selection import SELECTION_RULE

SamplesLoader = Callable[[str], Mapping[str, list[dict]]]
RunFilesLoader = Callable[[str], Mapping[str, object]]

@functools.lru_cache(maxsize=None)
def method_defaults(track: str, method: str) -> dict | None:
    """What `method` runs with on `track` when a submission sets no hyperparameter: its config class's defaults
    under the track's `training.hyperparameters` (as the runner resolves them). A track that is not in tasks/tracks/
    gives the method's own defaults; a method that is not registered gives None (the table shows every setting)."""
    from harness.config import load_track
    from harness.methods import config_class

    try:
        cls = config_class(method)
    except KeyError:
        return None
    try:
        given = load_track(track).training.hyperparameters
    except ConfigError:
        given = {}
    try:
        return cls.parse({k: v for k, v in given.items() if k in cls.model_fields}).model_dump()
    except ConfigError:
        return None


def method_summary(method: str) -> str:
    """The registry's one-line description of a method ('' for one that is not registered)."""
    from harness.methods import method_spec

    try:
        return method_spec(method).summary
    except KeyError:
        return ""


def slug(name: str) -> str:
    """A file name for an untrusted name, usable in an href as it is: injective, never leaves its folder."""
    return path_component(name, escape="~")


def track_page(track: str) -> str:
    return f"track-{slug(track)}.html"


def run_page(row: Row, run: RunSummary) -> str:
    parts = ["runs", slug(row.track), slug(row.submission)]
    if run.trial is not None:  # a sweep's trial: its own tree, so no trial label can meet a point label
        parts = ["trials", slug(row.track), slug(row.submission), slug(run.trial)]
    if row.point is not None:
        parts.append(slug(row.point))
    return "/".join(parts + [f"seed{slug(str(run.seed))}.html"])


def generation_note(n_runs: int, generated_at: str | None) -> str:
    """The one line that may differ between builds; pin it with generated_at or SOURCE_DATE_EPOCH."""
    if generated_at is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
        generated_at = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"Built by ft-harness {__version__} from {n_runs} runs, {generated_at}."


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.render", "templates"),
        autoescape=True,  # every page shows untrusted names, descriptions and completions
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["sort_key"] = _sort_key
    env.filters["pretty"] = _pretty
    env.filters["quantity"] = _quantity
    # The only script, inlined; the pages' Content-Security-Policy admits it by hash and nothing else.
    script = env.get_template("sort.js").render()
    env.globals["sort_js"] = markupsafe.Markup(script)
    env.globals["script_hash"] = "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return env


def _sort_key(cell: tables.Cell) -> str:
    """data-sort for the inline sorter: numbers as numbers, text as text, '' sorts last."""
    value = cell.value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return cell.display


def _quantity(value: object) -> str:
    """Budget numbers: thousands separators, scientific notation for FLOP-sized values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if abs(value) >= 1e9:
        return f"{value:.3g}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


class _Writer:
    """Writes pages under out_dir; every file goes through here so that all are UTF-8 with \\n."""

    def __init__(self, out_dir: Path, env: jinja2.Environment, note: str):
        self.out_dir, self.env, self.note = out_dir, env, note

    def text(self, relative: str, content: str) -> None:
        path = self.out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8", newline="\n")

    def page(self, relative: str, template: str, **context) -> None:
        root = "../" * relative.count("/")
        html = self.env.get_template(template).render(root=root, note=self.note, rank_rule=RANK_RULE,
                                                         selection_rule=SELECTION_RULE, **context)
        self.text(relative, html)

    def exports(self, stem: str, table: tables.Table) -> dict[str, str]:
        """Writes <stem>.<table.key>.<ext> for each view; returns {ext: file name} for the page's links."""
        links = {}
        for ext, view in export.EXPORTS.items():
            name = f"{stem}.{ext}" if stem == table.key else f"{stem}.{table.key}.{ext}"
            self.text(name, view(table))
            links[ext] = name
        return links


def _record_index(records: list[RunRecord]) -> dict[tuple, RunRecord]:
    """(track, submission, point, trial label, seed) -> record."""
    return {_run_key(record): record for record in records}


def _run_key(record: RunRecord) -> tuple:
    return (*record.entry, record.trial.label if record.trial is not None else None, record.seed)


def build_site(
    records: Iterable[RunRecord | Mapping],
    out_dir: Path,
    current_versions: Mapping[str, str],
    samples_loader: SamplesLoader | None = None,
    run_files_loader: RunFilesLoader | None = None,
    generated_at: str | None = None,
    board: Leaderboard | None = None,
    reproductions: Sequence[StudyClaims] = (),
) -> Path:
    """Score the records (unless `board` is given) and write the site; returns index.html.

    The loaders take a record's "run_dir" and return its samples per task and its parsed run
    files (load.load_samples, load.load_run_files); without them, or for a record without
    "run_dir", run pages show the metrics alone.
    """
    records = [as_record(r) for r in records]
    out_dir = Path(out_dir)
    board = board if board is not None else score_runs(records, current_versions)
    writer = _Writer(out_dir, _environment(), generation_note(len(records), generated_at))
    by_run = _record_index(records)

    tracks_table = tables.tracks_table(board, track_page)
    writer.page("index.html", "index.html.j2", title="Leaderboard", board=board, tracks=tracks_table,
                exports=writer.exports("tracks", tracks_table))
    writer.text("leaderboard.json", export.leaderboard_to_json(board))
    write_reproductions(writer, reproductions)

    for track in board.tracks:
        _write_track(writer, track, by_run)
        for row in track.rows:
            for run in row.runs:
                record = by_run[(row.track, row.submission, row.point, run.trial, run.seed)]
                _write_run(writer, track, row, run, record, samples_loader, run_files_loader)
            scored = {(run.trial, run.seed) for run in row.runs}
            for record in records:  # a sweep's other trials: inspectable on their own run pages, never ranked
                key = _run_key(record)
                if row.selection is not None and key[:3] == (row.track, row.submission, row.point) and key[3:] not in scored:
                    _write_run(writer, track, row, run_summary(record, None), record, samples_loader, run_files_loader)
    return out_dir / "index.html"


def write_reproductions(writer: _Writer, studies: Sequence[StudyClaims]) -> None:
    table = repro.reproductions_table(studies)
    writer.page("reproductions.html", "reproductions.html.j2", title="Reproductions", table=table,
                exports=writer.exports("reproductions", table), claim_rule=CLAIM_RULE, studies=studies)
    writer.text("reproductions.claims.json",
                json.dumps([s.to_json_dict() for s in studies], indent=2, ensure_ascii=False) + "\n")


def _curve(record: RunRecord) -> list[dict] | None:
    """The record's training curve as plot.py draws it ([{"step", "score", "mean_length"}, ...]), or None."""
    return [point.to_json_dict() for point in record.curve] if record.curve else None


def _track_curves(track: TrackTable, by_run: dict[tuple, RunRecord]) -> str | None:
    """Every valid entry's training curve (mean over its seeds), labelled by its # in the table; None without curves."""
    series = []
    for number, row in enumerate(track.rows, start=1):
        curves = [_curve(by_run[(row.track, row.submission, row.point, run.trial, run.seed)]) for run in row.runs]
        if row.valid and curves and all(curves):
            series.append((f"#{number}", plot.mean_curve(curves)))
    return plot.curves_svg(series) if series else None


def _write_track(writer: _Writer, track: TrackTable, by_run: dict[tuple, RunRecord]) -> None:
    page = track_page(track.track)
    stem = page.removesuffix(".html")
    leaderboard = tables.leaderboard_table(track, run_page, method_defaults, method_summary)
    per_task = tables.task_table(track)
    scatter, points = plot.scatter(track)
    writer.page(page, "track.html.j2", title=f"{track.track} leaderboard", track=track,
                scatter=scatter, points=points, curves=_track_curves(track, by_run),
                sections=[(leaderboard, writer.exports(stem, leaderboard)), (per_task, writer.exports(stem, per_task))],
                invalid=[row for row in track.rows if not row.valid],
                sweeps=[(row, tables.trials_table(row, run_page)) for row in track.rows if row.selection is not None])


def _write_run(writer: _Writer, track: TrackTable, row: Row, run: RunSummary, record: RunRecord,
               samples_loader: SamplesLoader | None, run_files_loader: RunFilesLoader | None) -> None:
    run_dir = record.run_dir
    files = run_files_loader(run_dir) if run_files_loader and run_dir else {}
    samples = samples_loader(run_dir) if samples_loader and run_dir else {}
    curve = _curve(record)
    writer.page(run_page(row, run), "run.html.j2", title=f"{row.label} seed {run.seed}", track=track, row=row,
                run=run, record=record, budget=record.budget or Budget(), files=files, samples=samples,
                track_href=track_page(track.track),
                curve=plot.curves_svg([("this run", curve)]) if curve else None,
                chain_curve=plot.chain_curves_svg(curve) if curve else None,
                checkpoints=_checkpoint_curve(record))


def _checkpoint_curve(record: RunRecord) -> str | None:
    """The validation curve of a track's checkpoint selection (domain score and length per step), or None."""
    if record.checkpoints is None or not record.checkpoints.curve:
        return None
    points = [{"step": p.step, "score": p.domain if p.domain is not None else p.score, "mean_length": p.mean_length}
              for p in record.checkpoints.curve]
    return plot.curves_svg([("validation", points)])


def build_site_from_runs(runs_dir: Path, out_dir: Path, current_versions: Mapping[str, str],
                         reproductions: Sequence[StudyClaims] = ()) -> Path:
    """Every finished run under runs_dir -> the site in out_dir (what `harness leaderboard` does); returns index.html."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"no runs directory at {runs_dir}: run `harness run` first, or pass --runs-dir")
    return build_site(load.load_records(runs_dir), Path(out_dir), current_versions,
                      samples_loader=load.load_samples, run_files_loader=load.load_run_files,
                      reproductions=reproductions)
