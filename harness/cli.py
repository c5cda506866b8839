"""The `harness` command line: run, validate, demo, pretrain, leaderboard, compare, study, reproductions, ls, schema,
export.

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
from harness.optional_packages import MissingPackage
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
    from harness.optional_packages import require_packages

    require_packages(track)  # vLLM / Liger / flash-attn where the track asks for them, before torch is imported
    from harness.runner import RunRequest  # torch: only once the files are known to be good

    seeds = args.seed if args.seed else [track.seeds[0]]
    _quiet_libraries()
    requests = [RunRequest(trial.submission, track, seed, Path(args.runs_dir), args.force, save_model=args.save_model,
                           allow_code_execution=args.allow_code_execution, trial=trial, report_to=args.report_to,
                           overrides=MappingProxyType(overrides) if overrides else None)
                for trial in trials for seed in seeds]  # several trials when the submission sweeps: one entry
    rows, failed = launch(args, requests)
    console.print(results_table(track.name, rows))
    return 1 if failed else 0


def launch(args: argparse.Namespace, requests: list) -> tuple[list[dict], int]:
    """Run the requests with the chosen launcher: one after another here (local), or one Ray task each (ray).
    Returns every run's rows and how many runs raised (the local launcher stops at the first instead)."""
    if args.max_retries < 0:
        raise ConfigError(None, "--max-retries", f"must be 0 or more, not {args.max_retries}")
    if args.launcher == "ray":
        from harness.ray_launcher import run_on_ray

        return run_on_ray(requests, err_console, address=args.address, max_retries=args.max_retries)
    if args.address:
        raise ConfigError(None, "--address", "--address joins a Ray cluster; it needs --launcher ray")
    from harness.runner import execute_run

    return [row for req in requests for row in execute_run(req, err_console)], 0


def cmd_study(args: argparse.Namespace) -> int:
    from harness.study import load_study, model_sources, study_tracks

    study, track, submissions = load_study(args.study)
    sources = model_sources(submissions)  # entries other entries sample SFT data from: their models are saved
    tracks = study_tracks(study, track, args.study)  # the track, or each of the study's track variants
    if args.variant:
        known = [v.name for v in study.track_variants or []]
        unknown = [v for v in args.variant if v not in known]
        if unknown:
            raise ConfigError(args.study, "track_variants", f"no variant {unknown[0]!r} in the study; it has: "
                              f"{', '.join(known) or 'none'}")
        tracks = [t for t, v in zip(tracks, study.track_variants) if v.name in args.variant]
    for t in tracks:
        check_for_track([s.submission for s in submissions], t, args.study)  # before any run directory exists
    from harness.optional_packages import require_packages

    for t in tracks:
        require_packages(t)  # vLLM / Liger / flash-attn where the track asks for them, before torch is imported
    from harness.runner import RunRequest  # torch: only once the files are known to be good
    seeds = study.seeds or track.seeds
    _quiet_libraries()
    on = track.name if len(tracks) == 1 else f"{len(tracks)} variants of {track.name}"
    err_console.print(f"[bold]study {study.name}[/]: {len(submissions)} submissions x {len(seeds)} seeds on {on}")
    requests = [RunRequest(trial.submission, t, seed, Path(args.runs_dir), args.force,
                           curve_every=study.curve_every, trial=trial, save_model=trial.name in sources)
                for t in tracks for trial in submissions for seed in seeds]
    rows, failed = launch(args, requests)
    for t in tracks:
        console.print(results_table(f"{t.name} / study {study.name}", [r for r in rows if r.get("track") == t.name]))
    if study.claims:
        from harness.render.load import load_records
        from harness.study import decide_claims, store_claims

        decided = decide_claims(args.study, load_records(Path(args.runs_dir)), current_track_versions())
        console.print(claims_table(decided))
        console.print(f"claims: {store_claims(Path(args.runs_dir), decided).resolve()}")
    index = build_leaderboard(Path(args.runs_dir), Path(args.out), also=[args.study])
    console.print(f"leaderboard: {index.resolve()}")
    if failed:
        err_console.print(f"{failed} runs failed; their error.json says why, and the next `harness study` redoes them",
                          highlight=False, markup=False)
    return 1 if failed else 0


def claims_table(decided) -> Table:
    """A study's claims and their verdicts (harness.claims.StudyClaims), readable at 80 columns."""
    from rich.text import Text

    from harness.claims import NOT_RUN

    colours = {"reproduced": "green", "contradicted": "red", "inconclusive": "yellow", NOT_RUN: "dim"}
    table = Table(title=Text(f"study {decided.study}: claims"), title_justify="left")
    table.add_column("claim", overflow="fold")
    table.add_column("paper", no_wrap=True)
    table.add_column("rule", overflow="fold")
    table.add_column("measured [95% CI]", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    for r in decided.results:
        ratio = r.claim.quantity.kind == "ratio"
        if r.estimate is None:
            measured = "; ".join(r.notes) + (f" (run: {decided.command})" if r.verdict == NOT_RUN else "")
        else:
            f = "{:.3f}" if ratio else "{:+.1f}"
            measured = f"{f.format(r.estimate.value)} [{f.format(r.estimate.low)}, {f.format(r.estimate.high)}]"
        table.add_row(Text(r.claim.id), r.claim.paper, Text(f"{r.quantity} {r.claim.claimed}"), Text(measured),
                      Text(r.verdict, style=colours.get(r.verdict, "")))
    return table


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.study import is_study_file

    if is_study_file(args.submission):
        return _validate_study(args)
    from harness.submissions import parse_overrides

    overrides = parse_overrides(args.set or [])
    tracks = [load_track(args.track)] if args.track else []
    trials = load_trials(args.submission, tracks[0] if tracks else None, overrides)
    for track in tracks:
        check_for_track([t.submission for t in trials], track, args.submission)
    where = f" on track {tracks[0].name}" if tracks else ""
    sweep = f", a sweep of {len(trials)} trials (one entry, chosen on validation)" if len(trials) > 1 else ""
    console.print(f"[green]ok[/] {args.submission}: method {trials[0].submission.method!r}{where}{sweep}")
    for track in tracks:
        for line in track_setup_lines(track):
            console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    return 0


def track_setup_lines(track) -> list[str]:
    """What a run on the track measures and runs with beyond its own tasks: the general suite (every task, and
    those without local data), the efficiency settings, and optional packages this machine lacks."""
    from harness.optional_packages import missing_packages
    from harness.suites import load_suite

    lines = []
    gs = track.general_suite
    if gs is None:
        lines.append("general suite: none (general score from the track's own general tasks only)")
    else:
        suite = load_suite(gs.name)
        chosen = [t for t in suite.tasks if gs.tasks is None or t.name in gs.tasks]
        limit = f", first {gs.limit} documents each" if gs.limit else ", every document"
        lines.append(f"general suite {suite.name} (v{suite.version}{limit}): " + ", ".join(t.name for t in chosen))
        offline = [t.name for t in chosen if t.local is None]
        if offline:
            lines.append("  no local data (unavailable offline): " + ", ".join(offline))
        code = [t.name for t in chosen if t.unsafe_code]
        if code and not gs.allow_code_execution:
            lines.append("  runs only with --allow-code-execution: " + ", ".join(code))
    if track.efficiency is not None:
        lines.append("efficiency: " + ", ".join(f"{k}={v}" for k, v in track.efficiency.requested().items()))
    lines.append(f"generation backend: {track.eval.backend}")
    lines += [f"note: {m}" for m in missing_packages(track)]
    return lines


def _validate_study(args: argparse.Namespace) -> int:
    """A study file: its submissions against its track, and its claims against its entries."""
    from harness.study import load_study

    if args.track or args.set:
        raise ConfigError(args.submission, None, "is a study (it has `submissions:`): its track is the study's "
                          "`track:` and overrides belong in its submissions; drop --track and --set")
    study, track, trials = load_study(args.submission)
    check_for_track([t.submission for t in trials], track, args.submission)
    entries = len({t.name for t in trials})
    claims = f", {len(study.claims)} claims" if study.claims else ""
    console.print(f"[green]ok[/] {escape(args.submission)}: study {study.name!r}, {entries} entries on track "
                  f"{track.name}{claims}")
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


def build_leaderboard(runs_dir: Path, out: Path, also: list[str] | None = None) -> Path:
    """The site from the runs, its Reproductions page from every study with claims (submissions/studies/ and `also`)."""
    from harness.render.site import build_site_from_runs
    from harness.study import repository_reproductions

    versions = current_track_versions()
    if not Path(runs_dir).is_dir():  # the site's own error says what to do
        return build_site_from_runs(runs_dir, out, versions)
    studies, errors = repository_reproductions(runs_dir, versions, also=also or [])
    for error in errors:
        err_console.print(f"note: study left off the Reproductions page: {error}", highlight=False, markup=False)
    return build_site_from_runs(runs_dir, out, versions, reproductions=studies)


def current_track_versions() -> dict[str, str]:
    """Name -> version of every track the leaderboard ranks: the track files and the studies' track variants."""
    from harness.catalog import STUDIES_DIR
    from harness.study import variant_track_versions

    versions = {name: track_version(load_track(name)) for name in list_tracks()}
    versions.update(variant_track_versions(sorted(STUDIES_DIR.glob("*.yaml"))))
    return versions


def cmd_reproductions(args: argparse.Namespace) -> int:
    """Every study with claims decided by the runs: the verdicts, and with --markdown the page as a document."""
    from harness.render.reproductions import reproductions_markdown
    from harness.study import repository_reproductions

    studies, errors = repository_reproductions(Path(args.runs_dir), current_track_versions(), also=args.study or [])
    for error in errors:
        err_console.print(f"note: study left out: {error}", highlight=False, markup=False)
    for decided in studies:
        console.print(claims_table(decided))
    if args.markdown:
        from harness.runs import atomic_write_text

        text = reproductions_markdown(studies)
        atomic_write_text(Path(args.markdown), text)
        console.print(f"written: {Path(args.markdown).resolve()}")
    return 2 if errors else 0


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

    versions = current_track_versions()
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


def _launcher_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--launcher", choices=("local", "ray"), default="local",
                        help="local: runs one after another in this process; ray: each (submission or trial, seed) "
                             "is a Ray task with the track's resources (needs the `scale` extra)")
    parser.add_argument("--address", metavar="ADDR",
                        help="with --launcher ray: join this Ray cluster (e.g. auto, or ray://HOST:10001); without it a "
                             "local Ray starts on this machine. The runs directory must be shared with every node")
    parser.add_argument("--max-retries", type=int, default=2, metavar="N",
                        help="with --launcher ray: times a run is retried when its worker dies (default 2); then it "
                             "is recorded as failed")


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
    _launcher_options(r)
    r.set_defaults(fn=cmd_run)

    v = sub.add_parser("validate", help="check a submission (and track), or a study file, without running it")
    v.add_argument("submission", help="a submission YAML, or a study YAML (one with `submissions:`)")
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
    st.add_argument("--variant", action="append", default=[],
                    help="run only this track variant of the study (repeatable; default: all of them)")
    st.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    st.add_argument("--out", default="leaderboard")
    st.add_argument("--force", action="store_true")
    _launcher_options(st)
    st.set_defaults(fn=cmd_study)

    rp = sub.add_parser("reproductions", help="decide the claims of every study in submissions/studies/ from the runs "
                        "and print the verdicts (--markdown writes the Reproductions page as a document)")
    rp.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR))
    rp.add_argument("--markdown", metavar="FILE", help="write the page as Markdown, e.g. docs/reproductions.md")
    rp.add_argument("--study", action="append", metavar="STUDY.yaml",
                    help="also a study file outside submissions/studies/ (repeatable)")
    rp.set_defaults(fn=cmd_reproductions)

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


def _check_processes(args: argparse.Namespace):
    """Several processes (accelerate launch, torchrun) run one `harness run` together; anything else is refused
    before any work, as is a launcher the harness does not support (harness/processes.py)."""
    from harness.processes import UnsupportedLauncher, detect

    procs = detect()
    if procs.distributed and args.command != "run":
        raise UnsupportedLauncher(f"`harness {args.command}` was started as one of {procs.world_size} processes "
                                  f"({procs.launcher}); only `harness run` runs on several processes (a study runs many "
                                  "runs itself: use --launcher ray)")
    if procs.distributed and getattr(args, "launcher", "local") != "local":
        raise UnsupportedLauncher("--launcher ray under a multi-process launcher: start `harness run --launcher ray` "
                                  "as one process (each Ray task is one process)")
    return procs


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data_dir:
        os.environ["HARNESS_DATA_DIR"] = str(Path(args.data_dir).resolve())
    try:
        if not _check_processes(args).is_main:  # another rank: it trains its shard; rank 0 prints and writes
            console.quiet = err_console.quiet = True
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
    except MissingPackage as e:  # this machine lacks a package the track needs: what to install, nothing run
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 1


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
