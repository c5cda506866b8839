"""The `harness` command line: run, validate, demo, pretrain, leaderboard, compare, study, ls, schema, export.

Config mistakes exit with status 2 and one line per problem (file, field, fix), no traceback. Any other failure
exits with status 1 and one line naming it (a failed run's traceback is in its error.json); `--debug` shows the
traceback instead. Global options (`--data-dir`, `--debug`) work before or after the subcommand, as in lm-eval
and TRL.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.config import load_track, track_version
from harness.discovery import REPO_ROOT, list_tracks
from harness.errors import ConfigError, ConfigErrors
from harness.record import RecordError, RunRecord
from harness.runs import DEFAULT_RUNS_DIR
from harness.submissions import check_for_track, load_submission, load_trials

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

BASELINES_DIR = REPO_ROOT / "submissions" / "baselines"
DEMO_TRACK = "tiny-parity"
DEMO_BASELINES = ["base", "sft", "sft-lr-small", "dft", "talr", "grpo", "star"]


def _quiet_libraries() -> None:
    """Keep the terminal readable: the harness draws its own progress; libraries' bars and info logs go."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def cmd_run(args: argparse.Namespace) -> int:
    from types import MappingProxyType

    from harness.submissions import parse_overrides

    overrides = parse_overrides(args.set or [])
    track = load_track(args.track)
    trials = load_trials(args.submission, track, overrides)  # sweeps checked against the track's limits first
    check_for_track([t.submission for t in trials], track, args.submission)  # before any run directory exists
    from harness.runner import RunRequest, execute_run  # torch: only once the files are known to be good

    seeds = args.seed if args.seed else [track.seeds[0]]
    _quiet_libraries()
    rows = []
    for trial in trials:  # several when the submission sweeps a hyperparameter: one entry, one run per trial
        for seed in seeds:
            req = RunRequest(trial.submission, track, seed, Path(args.runs_dir), args.force, save_model=args.save_model,
                             allow_code_execution=args.allow_code_execution, trial=trial, report_to=args.report_to,
                             overrides=MappingProxyType(overrides) if overrides else None)
            rows += execute_run(req, err_console)
    console.print(results_table(track.name, rows))
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from harness.study import load_study, model_sources

    study, track, submissions = load_study(args.study)
    sources = model_sources(submissions)  # entries other entries sample SFT data from: their models are saved
    check_for_track([t.submission for t in submissions], track, args.study)  # before any run directory exists
    from harness.runner import RunRequest, execute_run  # torch: only once the files are known to be good
    seeds = study.seeds or track.seeds
    _quiet_libraries()
    err_console.print(f"[bold]study {study.name}[/]: {len(submissions)} submissions x {len(seeds)} seeds on {track.name}")
    rows = []
    for trial in submissions:
        for seed in seeds:
            req = RunRequest(trial.submission, track, seed, Path(args.runs_dir), args.force,
                             curve_every=study.curve_every, trial=trial, save_model=trial.name in sources)
            rows += execute_run(req, err_console)
    console.print(results_table(f"{track.name} / study {study.name}", rows))
    index = build_leaderboard(Path(args.runs_dir), Path(args.out))
    console.print(f"leaderboard: {index.resolve()}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.submissions import parse_overrides

    overrides = parse_overrides(args.set or [])
    tracks = [load_track(args.track)] if args.track else []
    trials = load_trials(args.submission, tracks[0] if tracks else None, overrides)
    for track in tracks:
        check_for_track([t.submission for t in trials], track, args.submission)
    where = f" on track {tracks[0].name}" if tracks else ""
    sweep = f", a sweep of {len(trials)} trials (one entry, chosen on validation)" if len(trials) > 1 else ""
    console.print(f"[green]ok[/] {args.submission}: method {trials[0].submission.method!r}{where}{sweep}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    import json

    from harness.pretrain import ensure_base_model

    track = load_track(args.track)
    _quiet_libraries()
    path = ensure_base_model(track, err_console)
    scores = json.loads((path / "base_scores.json").read_text())
    table = Table(title=f"Base model of {track.name}")
    table.add_column("task")
    table.add_column("role")
    table.add_column("score", justify="right")
    for name, s in scores["scores"].items():
        table.add_row(name, s["role"], f"{s['score']:.1f}")
    console.print(table)
    console.print(f"saved at {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.runner import RunRequest, execute_run

    track = load_track(args.track)
    submissions = [load_submission(BASELINES_DIR / f"{name}.yaml") for name in DEMO_BASELINES]
    _quiet_libraries()
    t0 = time.perf_counter()
    rows = []
    for sub in submissions:
        err_console.print(f"[bold]{sub.name}[/] on {track.name}")
        rows += execute_run(RunRequest(sub, track, track.seeds[0], Path(args.runs_dir), args.force), err_console)
    console.print(results_table(track.name, rows))
    console.print(f"demo wall time: {time.perf_counter() - t0:.0f} s")
    index = build_leaderboard(Path(args.runs_dir), Path(args.out))
    console.print(f"leaderboard: {index.resolve()}")
    return 0


def build_leaderboard(runs_dir: Path, out: Path) -> Path:
    from harness.render.site import build_site_from_runs

    versions = {name: track_version(load_track(name)) for name in list_tracks()}
    return build_site_from_runs(runs_dir, out, versions)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    try:
        index = build_leaderboard(Path(args.runs_dir), Path(args.out))
    except (FileNotFoundError, RecordError) as e:
        err_console.print(f"[red]error:[/] {escape(str(e))}", highlight=False)
        return 2
    console.print(f"leaderboard: {index.resolve()}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.compare import print_comparison

    baselines = sorted(p.stem for p in BASELINES_DIR.glob("*.yaml"))
    return print_comparison(args.a, args.b, Path(args.runs_dir), args.track, args.baselines, args.json, baseline_names=baselines)


def cmd_audit_grader(args: argparse.Namespace) -> int:
    """Every gold answer of a task through its own grader; math also vs. a plain boxed-string match."""
    from harness.data import DataUnavailable
    from harness.grader_audit import audit_task, render_audit

    try:
        report = audit_task(args.task)  # the task YAML picks the audit and the data (--data-dir is global)
    except (ValueError, DataUnavailable) as e:
        err_console.print(f"[red]error:[/] {escape(str(e))}", highlight=False)
        return 2
    console.print(render_audit(report, max_rows=args.max_rows))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    import json

    from harness.catalog import listing

    items = listing(args.kind)
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return 0
    table = Table(title=args.kind, title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("description", overflow="fold")
    for item in items:
        table.add_row(item["name"], item["description"])
    console.print(table)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from harness.catalog import json_schema

    print(json.dumps(json_schema(args.kind), indent=2, ensure_ascii=False))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from harness.render.hub import HubPushError, export_hub_dataset, push_hub_dataset

    versions = {name: track_version(load_track(name)) for name in list_tracks()}
    try:
        folder = export_hub_dataset(Path(args.runs_dir), Path(args.hf), versions)
    except (FileNotFoundError, RecordError) as e:
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 2
    console.print(f"dataset folder: {folder.resolve()} (datasets.load_dataset({str(folder)!r}) loads it)",
                  highlight=False)
    if args.push:
        try:
            url = push_hub_dataset(folder, args.push)
        except HubPushError as e:
            err_console.print(f"error: {e}", highlight=False, markup=False)
            return 1
        console.print(f"pushed to {url}", highlight=False)
    return 0


def results_table(track: str, rows: list[dict]) -> Table:
    """Scores and budget per run, readable at 80 columns: names and deltas wrap onto further lines, never cut."""
    from rich.text import Text

    table = Table(title=Text(f"{track}: domain vs general (0-100)"), title_justify="left")
    table.add_column("submission", overflow="fold", min_width=10)
    table.add_column("seed", justify="right", no_wrap=True)
    table.add_column("status", overflow="fold", min_width=4)
    table.add_column("domain", justify="right", no_wrap=True)  # with its delta against the base on a second line
    table.add_column("general", justify="right", no_wrap=True)
    table.add_column("budget used", justify="right", no_wrap=True)
    table.add_column("train s", justify="right", no_wrap=True)
    base = next((r for r in rows if r.get("method") == "base"), None)
    for r in rows:
        used = (r.get("budget") or {}).get("used", {})
        name = r["submission"] if r.get("point") is None else f"{r['submission']} @ {r['point']}"
        dom, gen, delta = r.get("domain"), r.get("general"), ""
        if r.get("trial"):  # a sweep's trial: its validation scores (what selection reads), never its test scores
            name = f"{name} [{r['trial']['label']}] (validation)"
            record = RunRecord.model_validate(r)
            dom, gen = record.validation_mean("domain"), record.validation_mean("general")
        elif base and base.get("domain") is not None and dom is not None and r is not base:
            delta = f"\n({dom - base['domain']:+.1f})"
        budget = [f"{used.get('gradient_tokens', 0):,} tok", f"{used.get('optimizer_steps', 0)} steps"]
        if used.get("rollouts"):
            budget.append(f"{used['rollouts']:,} rollouts")
        table.add_row(
            Text(name), str(r["seed"]),
            Text(r["status"]), f"{dom:.1f}{delta}" if dom is not None else "-",
            f"{gen:.1f}" if gen is not None else "-",
            "\n".join(budget), f"{(r.get('wall_seconds') or {}).get('train', 0):.0f}",
        )
    return table


DATA_DIR_HELP = ("folder laid out like shared/datasets (else $HARNESS_DATA_DIR, else ../shared/datasets); "
                 "with it, nothing is downloaded")
REPORT_TO = ("none", "tensorboard", "trackio", "wandb")


class _SubParsers(argparse._SubParsersAction):
    """Every subcommand also takes the global options (default SUPPRESS: given before the subcommand, they stand)."""

    def add_parser(self, name, **kwargs):
        parser = super().add_parser(name, **kwargs)
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, help=DATA_DIR_HELP)
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help="show the Python traceback of an unexpected error")
        return parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected error")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.register("action", "parsers", _SubParsers)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="fine-tune and evaluate one submission on a track")
    r.add_argument("submission", help="path to a submission YAML")
    r.add_argument("--track", required=True, help="track name (tasks/tracks/NAME.yaml) or path")
    r.add_argument("--seed", type=int, action="append", help="seed (repeatable); default: the track's first")
    r.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    r.add_argument("--force", action="store_true", help="redo a finished run")
    r.add_argument("--save-model", action="store_true",
                   help="also write the trained model to <run dir>/model (a data source for other runs' SFT data)")
    r.add_argument("--allow-code-execution", action="store_true",
                   help="let general-suite tasks that execute model-written code (HumanEval) run, in a subprocess "
                        "with a timeout; the run records that they did")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one hyperparameter of the submission (repeatable; a JSON list sweeps), validated like "
                        "the file; the run is named like a sweep point, e.g. sft[learning_rate=0.0003]")
    r.add_argument("--report-to", choices=REPORT_TO, default="none",
                   help="where TRL reports training logs (the budget ledger included); tensorboard writes under "
                        "<run dir>/trainer/runs/")
    r.set_defaults(fn=cmd_run)

    v = sub.add_parser("validate", help="check a submission (and track) without running it")
    v.add_argument("submission")
    v.add_argument("--track")
    v.add_argument("--set", action="append", metavar="KEY=VALUE", help="check these hyperparameter overrides too")
    v.set_defaults(fn=cmd_validate)

    pt = sub.add_parser("pretrain", help="build (or load from cache) a tiny track's base model and show its scores")
    pt.add_argument("--track", default=DEMO_TRACK)
    pt.set_defaults(fn=cmd_pretrain)

    d = sub.add_parser("demo", help="run the baselines on the default track, print the table, write the site")
    d.add_argument("--track", default=DEMO_TRACK)
    d.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    d.add_argument("--out", default="leaderboard")
    d.add_argument("--force", action="store_true")
    d.set_defaults(fn=cmd_demo)

    st = sub.add_parser("study", help="run every submission of a study file over its seeds, then score them")
    st.add_argument("study", help="path to a study YAML (submissions/studies/)")
    st.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    st.add_argument("--out", default="leaderboard")
    st.add_argument("--force", action="store_true")
    st.set_defaults(fn=cmd_study)

    lb = sub.add_parser("leaderboard", help="render the static leaderboard site from stored runs")
    lb.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    lb.add_argument("--out", default="leaderboard")
    lb.set_defaults(fn=cmd_leaderboard)

    au = sub.add_parser("audit-grader", help="run every gold answer of a task through its grader and list failures")
    au.add_argument("task", help="a math or medcalc task name (tasks/NAME.yaml)")
    au.add_argument("--max-rows", type=int, default=50, help="failures and disagreements listed per check")
    au.set_defaults(fn=cmd_audit_grader)

    c = sub.add_parser("compare", help="per-task differences between two runs or submissions, with paired CIs")
    c.add_argument("a", help="run directory or submission name")
    c.add_argument("b", nargs="?", help="run directory or submission name")
    c.add_argument("--track")
    c.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    c.add_argument("--baselines", action="store_true", help="compare A against every baseline of its track")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_compare)

    from harness.catalog import KINDS, SCHEMAS

    ls = sub.add_parser("ls", help="list tracks, methods, tasks, suites or studies with one-line descriptions")
    ls.add_argument("kind", choices=KINDS)
    ls.add_argument("--json", action="store_true", help="a JSON list of {name, description}")
    ls.set_defaults(fn=cmd_ls)

    sc = sub.add_parser("schema", help="print the JSON Schema of a config file (for editors; field docs included)")
    sc.add_argument("kind", choices=list(SCHEMAS))
    sc.set_defaults(fn=cmd_schema)

    ex = sub.add_parser("export", help="write the leaderboard as a Hugging Face dataset folder (and push it)")
    ex.add_argument("--hf", required=True, metavar="DIR",
                    help="folder to write: one Parquet file per table and a dataset card (README.md)")
    ex.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    ex.add_argument("--push", metavar="ORG/NAME", help="then upload the folder as a dataset repo (needs a token: "
                    "`huggingface-cli login` or $HF_TOKEN)")
    ex.set_defaults(fn=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data_dir:
        os.environ["HARNESS_DATA_DIR"] = str(Path(args.data_dir).resolve())
    try:
        return args.fn(args)
    except ConfigErrors as e:
        for one in e.errors:  # user text is escaped: a name holding "[red]" or "[/]" is printed, not interpreted
            err_console.print(f"[red]error:[/] {escape(str(one))}", highlight=False)
        return 2
    except ConfigError as e:
        err_console.print(f"[red]error:[/] {escape(str(e))}", highlight=False)
        return 2
    except RecordError as e:  # a run folder of another schema version or of another entry: refused, not reused
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 2


def entry(argv: list[str] | None = None) -> int:
    """The `harness` command: `main`, with any other failure as one line and exit status 1 (the traceback only with
    `--debug`). `main` itself lets such errors propagate, for callers that handle them (tests, scripts)."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        err_console.print("interrupted; an unfinished run is redone by the next `harness run`", highlight=False,
                          markup=False)
        return 130
    except Exception as e:  # not a config mistake: one line, the traceback only with --debug
        if "--debug" in (sys.argv[1:] if argv is None else argv):
            raise
        err_console.print(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", highlight=False,
                          markup=False)
        return 1


if __name__ == "__main__":
    sys.exit(entry())
