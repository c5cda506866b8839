"""One run: submission x track x seed -> a finished run directory.

Order of work: validate everything, write the resolved config and provenance, get the base model,
build the trainer through the method, attach the budget meter, train, evaluate every task with the
track's settings (on its test items and, on a track with a validation set, on its validation items),
write samples, then metrics.json last. A sweep's trial is a run like any other, in a folder under its
entry's (harness/runs.py), its record marked with the trial.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.budget import BudgetMeter, TrainingDiverged, count_parameters
from harness.config import track_version
from harness.evaluate import evaluate_task, summarize
from harness.generation import Generator, open_generator
from harness.methods import TrainContext, config_class, get_method
from harness.lmeval_format import write_run_output
from harness.prepare import MODEL_DIR, finish_training, prepare_training
from harness.processes import Processes, detect, join_processes
from harness.model_folders import check_recipe_runs
from harness.optional_packages import require_packages
from harness.models import load_base_model, resolve_base_model, template_fingerprint
from harness.record import SCHEMA_VERSION, RunRecord
from harness.runs import (
    METRICS_FILE,
    POINTS_FILE,
    adopt_legacy_run,
    atomic_write_json,
    atomic_write_jsonl,
    check_owner,
    is_finished,
    provenance,
    read_points,
    read_record,
    run_dir,
    write_ledger,
    write_points,
    write_record,
)
from harness.schemas import SubmissionConfig, TrackConfig
from harness.sweep import Trial
from harness.track_data import eval_tasks, test_items, validation_items


class TemplateMismatch(RuntimeError):
    """Evaluation would use another chat template or end token than training did."""


@dataclass(frozen=True)
class RunRequest:
    submission: SubmissionConfig
    track: TrackConfig
    seed: int
    runs_dir: Path
    force: bool = False
    curve_every: int | None = None
    """Evaluate the domain tasks every N optimizer steps during training (a study setting)."""
    backend: str | None = None
    """Generation backend for evaluation; None means the track's eval.backend."""
    save_model: bool = False
    """Also write the trained model to <run dir>/model (e.g. as a data source for another run's SFT)."""
    allow_code_execution: bool = False
    """Let general-suite tasks that execute model-written code (HumanEval) run, as if the track allowed it."""
    trial: Trial | None = None
    """The sweep trial this run is (its submission is `submission`); None or a plain trial: a plain run."""

    @property
    def trial_label(self) -> str | None:
        return self.trial.label if self.trial is not None else None

    def folder(self, point: str | None = None) -> Path:
        """Where the run's folder is (and, without `stage_dir`, where it is written)."""
        return run_dir(self.runs_dir, self.track.name, self.submission.name, self.seed, point, self.trial_label)

    def write_folder(self, point: str | None = None) -> Path:
        """Where the run's files are written: its folder, or the same path under `stage_dir`."""
        root = self.runs_dir if self.stage_dir is None else self.stage_dir
        return run_dir(root, self.track.name, self.submission.name, self.seed, point, self.trial_label)
    report_to: str = "none"
    """Where TRL reports training logs (`harness run --report-to`): none, tensorboard, trackio, wandb."""
    overrides: MappingProxyType | None = None
    """Hyperparameters set on the command line (`--set`), already applied to `submission`; recorded in config.json."""
    stage_dir: Path | None = None
    """Write the run's folders under this directory (same layout as the runs directory) instead of in place; the
    caller moves them into `runs_dir` when the run ends (harness/ray_launcher.py: a run appears whole or not at
    all). Finished runs, data recipes and legacy folders are still looked up in `runs_dir`."""


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )


def execute_run(req: RunRequest, console: Console | None = None) -> list[dict[str, Any]]:
    """Run (or reuse) one run and return the metrics.json content of each of its points (usually one).

    Every metrics.json is validated through harness.record.RunRecord before it is written.
    """
    console = console or Console(stderr=True)
    procs = detect()
    reused = finished_records(req, console if procs.is_main else None, adopt=procs.is_main)
    if reused is not None:
        return reused if procs.is_main else []
    require_packages(req.track, req.backend)  # vLLM, Liger, flash-attn where the track asks for them: before any work
    if not procs.is_main:  # another rank of a multi-process run: it trains its shard; rank 0 writes and evaluates
        with tempfile.TemporaryDirectory(prefix=f"harness-rank{procs.rank}-") as scratch:
            _execute(replace(req, stage_dir=Path(scratch)), console, procs)
        return []
    return _execute(req, console, procs)


def _execute(req: RunRequest, console: Console, procs: Processes) -> list[dict[str, Any]]:
    out = req.write_folder()
    method = get_method(req.submission.method)
    hp = resolve_hyperparameters(req.submission, req.track)
    check_recipe_runs(req.submission.data, req.runs_dir, req.track.name, req.seed)  # before any directory exists
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).unlink(missing_ok=True)
    (out / POINTS_FILE).unlink(missing_ok=True)
    config = {
        "track": req.track.model_dump(),
        "track_version": track_version(req.track),
        "submission": req.submission.model_dump(),
        "resolved_hyperparameters": hp.model_dump(),
        "data_recipe": req.submission.data.model_dump(),
        "seed": req.seed,
        "efficiency": resolve_efficiency(req.track, req.backend),
    }
    trial = req.trial.record_fields(req.track.selection.metric) if req.trial is not None else None
    if trial is not None:
        config["trial"] = trial
    if req.overrides:
        config["overrides"] = dict(req.overrides)
    atomic_write_json(out / "config.json", config)
    atomic_write_json(out / "provenance.json", provenance())
    base = _record_identity(req, hp)
    try:
        ledger, timings, points, prep = _train(req, method, hp, out, console, procs)
        if not procs.is_main:
            return []
        results = []
        for label, model, tokenizer in points:
            pdir = out if label is None else req.write_folder(label)
            if label is not None:
                check_owner(req.folder(label), req.track.name, req.submission.name, label, req.trial_label)
                pdir.mkdir(parents=True, exist_ok=True)
                atomic_write_json(pdir / "config.json", {**config, "point": label, "trained_in": str(req.folder())})
                atomic_write_json(pdir / "provenance.json", provenance())
                write_ledger(pdir, ledger)
            metrics = {**base, "point": label, **_evaluate(req, model, tokenizer, pdir, ledger, timings, console)}
            metrics.update(prep.metrics(metrics, ledger["used"]["optimizer_steps"]))  # data_recipe, curve
            record = RunRecord.model_validate(metrics)
            write_run_output(pdir, record.to_json_dict(), req.track.eval.model_dump(), provenance())  # lm-eval's shape
            write_record(pdir, record)
            results.append(record.to_json_dict())
    except Exception as e:  # recorded so the leaderboard lists it as failed; the run is redone next time
        record = write_failed_run(req, out, f"{type(e).__name__}: {e}", traceback.format_exc(), repr(e))
        if isinstance(e, TrainingDiverged):  # the method's outcome, not a harness fault: recorded, a study goes on
            return [record.to_json_dict()]
        raise
    if points and points[0][0] is not None:
        # One training run, several evaluated points: the training folder lists them (and so is finished).
        write_points(out, [label for label, _, _ in points])
    return results


def finished_records(req: RunRequest, console: Console | None = None, adopt: bool = True) -> list[dict[str, Any]] | None:
    """The metrics.json content of each point of a finished run (None when the run is to be done: unfinished, or
    `force`). Refuses a folder that holds another entry's record; moves a legacy-named folder first (`adopt`: only
    one process of a multi-process run moves it)."""
    out = req.folder()
    if adopt and req.trial_label is None and adopt_legacy_run(req.runs_dir, req.track.name, req.submission.name, req.seed):
        if console is not None:
            console.print(f"[dim]moved this run's folder from the old folder naming to {out}[/]")
    check_owner(out, req.track.name, req.submission.name, trial=req.trial_label)
    if req.force or not is_finished(out):
        return None
    if req.save_model and not (out / MODEL_DIR).is_dir():  # finished without its model (e.g. by another study), and
        if console is not None:                             # a later entry samples from it: redo it, saving the model
            console.print(f"[dim]{out} is finished but kept no model, which another entry samples from; redoing it[/]")
        return None
    if console is not None:
        console.print(f"[dim]{out} is finished; reusing it (--force to redo)[/]")
    return [read_record(d).to_json_dict() for d in _point_dirs(req, out)]


def write_failed_run(req: RunRequest, out: Path, error: str, trace: str, detail: str | None = None) -> RunRecord:
    """Record the run in `out` as failed with the reason (error.json and a failed metrics.json); the leaderboard
    lists it as invalid and the next run of it redoes it."""
    atomic_write_json(out / "error.json", {"error": detail or error, "traceback": trace})
    hp = resolve_hyperparameters(req.submission, req.track)
    failed = {"status": "failed", "error": error, "tasks": {}, "domain": None, "general": None, "budget": None}
    record = RunRecord.model_validate({**_record_identity(req, hp), **failed})
    write_record(out, record)
    return record


def _record_identity(req: RunRequest, hp) -> dict[str, Any]:
    """The fields of metrics.json that say which run it is (before any score)."""
    trial = req.trial.record_fields(req.track.selection.metric) if req.trial is not None else None
    return {
        "schema": SCHEMA_VERSION,
        "track": req.track.name,
        "track_version": track_version(req.track),
        "submission": req.submission.name,
        "description": req.submission.description,
        "method": req.submission.method,
        "hyperparameters": hp.model_dump(),
        "seed": req.seed,
        "point": None,
        **({"trial": trial} if trial is not None else {}),
    }


def resolve_efficiency(track: TrackConfig, backend: str | None = None) -> dict[str, Any]:
    """What the run trains and generates with (config.json `efficiency`): the track's efficiency block as set
    (`requested`), each setting as applied, and the generation backends."""
    eff = track.efficiency
    bf16 = eff.bf16 if eff is not None and eff.bf16 is not None else torch.cuda.is_available()
    backend = backend or track.eval.backend
    return {
        "requested": eff.requested() if eff is not None else {},
        "bf16": bf16,
        "attn_implementation": (eff.attn_implementation if eff is not None else None) or "default",
        "gradient_checkpointing": eff.gradient_checkpointing if eff is not None else False,
        "use_liger_kernel": eff.use_liger_kernel if eff is not None else False,
        "padding_free": eff.padding_free if eff is not None else False,
        "eval_backend": backend,
        "rl_generation": "vllm-colocate" if track.eval.backend == "vllm" else "transformers",  # GRPO/RLOO rollouts
    }


def resolve_hyperparameters(submission: SubmissionConfig, track: TrackConfig):
    """The track's defaults for the keys this method takes, overridden by the submission's own values."""
    config = config_class(submission.method)
    defaults = {k: v for k, v in track.training.hyperparameters.items() if k in config.model_fields}
    return config.parse({**defaults, **submission.hyperparameters})


def _point_dirs(req: RunRequest, out: Path) -> list[Path]:
    labels = read_points(out)
    if labels is not None:
        dirs = [req.folder(p) for p in labels]
        for label, pdir in zip(labels, dirs):
            check_owner(pdir, req.track.name, req.submission.name, label, req.trial_label)
        return dirs
    return [out]


def _train(req: RunRequest, method, hp, out: Path, console: Console, procs: Processes):
    torch.manual_seed(req.seed)
    if procs.distributed:  # rank 0 builds (tiny: pretrains) the base model into the cache, the others then load it
        with join_processes(procs).main_process_first():
            model_dir = resolve_base_model(req.track, console)
    else:
        model_dir = resolve_base_model(req.track, console)
    model, tokenizer = load_base_model(req.track, model_dir)
    template = template_fingerprint(tokenizer)
    atomic_write_json(out / "template.json", {**template, "chat_template": tokenizer.chat_template})
    meter = BudgetMeter(req.track.budget, count_parameters(model))
    timings: dict[str, float] = {}
    # The metered sampler, the rollout log, the SFT data recipe (sampled through the meter) and the curve.
    prep = prepare_training(req.track, req.submission.data, method, model, tokenizer, meter, seed=req.seed,
                            runs_dir=req.runs_dir, curve_every=req.curve_every)
    ctx = TrainContext(
        model=model,
        tokenizer=tokenizer,
        **prep.context_fields(),
        output_dir=out / "trainer",
        seed=req.seed,
        track=MappingProxyType(req.track.model_dump()),
        max_length=req.track.training.max_length,
        base_model_dir=model_dir,
        report_to=req.report_to,
    )
    if method.trains:
        t0 = time.perf_counter()
        console.print(f"training {req.submission.name} on {req.track.name} (seed {req.seed})")
        with meter.guard(model):  # every forward metered, generate() only through the metered sampler
            model = method.train(ctx, hp, meter)
        if prep.checkpoints is not None:  # score the run as its best checkpoint on validation
            model = prep.checkpoints.finish(model, meter.ledger.optimizer_steps)
        finish_training(out, model, tokenizer, meter, req.save_model)
        timings["train"] = round(time.perf_counter() - t0, 2)
        atomic_write_json(out / "train_log.json", meter.log_history)
    ledger = meter.report()
    write_ledger(out, ledger)
    points = [(label, m, tokenizer) for label, m in method.points(model, ctx, hp)]
    for label, _, tok in points:
        if template_fingerprint(tok) != template:
            raise TemplateMismatch(f"point {label!r}: the chat template or end token used for evaluation differs from "
                                   f"the one used in training ({template}); refusing to evaluate")
    return ledger, timings, points, prep


def _evaluate(req: RunRequest, model, tokenizer, out: Path, ledger: dict, timings: dict, console: Console) -> dict[str, Any]:
    # One generator per evaluated model: with vLLM, one engine serves the test and validation items and the suite.
    with open_generator(req.backend or req.track.eval.backend, model, tokenizer, req.track.eval.seed) as generator:
        return _evaluate_with(req, generator, out, ledger, timings, console)


def _evaluate_with(req: RunRequest, generator: Generator, out: Path, ledger: dict, timings: dict,
                   console: Console) -> dict[str, Any]:
    model, tokenizer = generator.model, generator.tokenizer
    t0 = time.perf_counter()
    results = []
    with progress_bar(console) as progress:
        for task, role in eval_tasks(req.track):
            res = evaluate_task(model, tokenizer, task, test_items(req.track, task), role, req.track.eval, progress,
                                generator=generator)
            atomic_write_jsonl(out / "samples" / f"{task.name}.jsonl", res.samples)
            results.append(res)
    validation = {}
    if req.track.has_validation:  # what selection reads; never the leaderboard's scores
        with progress_bar(console) as progress:
            for task, role in eval_tasks(req.track):
                res = evaluate_task(model, tokenizer, task, validation_items(req.track, task), role, req.track.eval,
                                    progress, generator=generator)
                atomic_write_jsonl(out / "samples" / "validation" / f"{task.name}.jsonl", res.samples)
                validation[task.name] = {**res.metrics, "split": "validation"}
    evaluate_s = round(time.perf_counter() - t0, 2)
    suite = {}
    if req.track.general_suite is not None:  # general benchmarks through lm-eval, after the harness's own tasks
        from harness.lmeval import evaluate_general_suite

        t1 = time.perf_counter()
        outcome = evaluate_general_suite(model, tokenizer, req.track, out, console,
                                         is_base=not get_method(req.submission.method).trains,
                                         allow_code_execution=req.allow_code_execution, generator=generator)
        results += outcome.results
        suite = {"general_suite": outcome.record}
        timings = {**timings, "general_suite": round(time.perf_counter() - t1, 2)}
    return {
        "status": "ok" if ledger["within_budget"] else "over_budget",
        "error": None,
        "tasks": {r.name: r.metrics for r in results},
        **summarize(results),
        **suite,
        **({"validation": validation} if validation else {}),
        "template": template_fingerprint(tokenizer),
        "budget": ledger,
        "wall_seconds": {**timings, "evaluate": evaluate_s},
    }
