"""One run: submission x track x seed -> a finished run directory.

Order of work: validate everything, write the resolved config and provenance, get the base model,
build the trainer through the method, attach the budget meter, train, evaluate every task with the
track's settings, write samples, then metrics.json last.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.budget import BudgetMeter, attach_meter, count_parameters
from harness.config import SubmissionConfig, TrackConfig
from harness.evaluate import evaluate_task, summarize
from harness.methods import METHODS, TrainContext
from harness.pretrain import ensure_base_model, load_base_model
from harness.runs import atomic_write_json, atomic_write_jsonl, is_finished, provenance, read_metrics, run_dir
from harness.track_data import domain_train_examples, eval_tasks, test_items, to_dataset

METRICS_SCHEMA = 1


@dataclass(frozen=True)
class RunRequest:
    submission: SubmissionConfig
    track: TrackConfig
    seed: int
    runs_dir: Path
    force: bool = False


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )


def execute_run(req: RunRequest, console: Console | None = None) -> dict[str, Any]:
    """Run (or reuse) one run and return its metrics."""
    console = console or Console(stderr=True)
    out = run_dir(req.runs_dir, req.track.name, req.submission.name, req.seed)
    if not req.force and is_finished(out):
        console.print(f"[dim]{out} is finished; reusing it (--force to redo)[/]")
        return read_metrics(out)
    method = METHODS.get(req.submission.method)
    hp = method.parse_config(req.submission.hyperparameters)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").unlink(missing_ok=True)
    atomic_write_json(
        out / "config.json",
        {
            "track": req.track.model_dump(),
            "track_version": req.track.version,
            "submission": req.submission.model_dump(),
            "resolved_hyperparameters": hp.model_dump(),
            "seed": req.seed,
        },
    )
    atomic_write_json(out / "provenance.json", provenance())
    base = {
        "schema": METRICS_SCHEMA,
        "track": req.track.name,
        "track_version": req.track.version,
        "submission": req.submission.name,
        "description": req.submission.description,
        "method": req.submission.method,
        "hyperparameters": hp.model_dump(),
        "seed": req.seed,
        "point": None,
    }
    try:
        metrics = _train_and_evaluate(req, method, hp, out, console)
    except Exception as e:  # recorded so the leaderboard lists it as failed; the run is redone next time
        atomic_write_json(out / "error.txt.json", {"error": repr(e), "traceback": traceback.format_exc()})
        metrics = {"status": "failed", "error": f"{type(e).__name__}: {e}", "tasks": {}, "domain": None,
                   "general": None, "budget": None}
        atomic_write_json(out / "metrics.json", {**base, **metrics})
        raise
    final = {**base, **metrics}
    atomic_write_json(out / "metrics.json", final)
    return final


def _train_and_evaluate(req: RunRequest, method, hp, out: Path, console: Console) -> dict[str, Any]:
    torch.manual_seed(req.seed)
    model_dir = ensure_base_model(req.track, console)
    model, tokenizer = load_base_model(model_dir)
    meter = BudgetMeter(req.track.budget, count_parameters(model))
    timings = {}
    if method.trains:
        ctx = TrainContext(
            model=model,
            tokenizer=tokenizer,
            train_dataset=to_dataset(domain_train_examples(req.track)),
            output_dir=out / "trainer",
            seed=req.seed,
            track=MappingProxyType(req.track.model_dump()),
            max_length=req.track.training.max_length,
        )
        trainer = method.build_trainer(ctx, hp)
        attach_meter(trainer, meter)
        t0 = time.perf_counter()
        with console.status(f"training {req.submission.name} on {req.track.name} (seed {req.seed})"):
            trainer.train()
        timings["train"] = round(time.perf_counter() - t0, 2)
        model = trainer.model
        atomic_write_json(out / "train_log.json", trainer.state.log_history)
    ledger = meter.report()
    atomic_write_json(out / "ledger.json", ledger)

    t0 = time.perf_counter()
    results = []
    with progress_bar(console) as progress:
        for task, role in eval_tasks(req.track):
            res = evaluate_task(model, tokenizer, task, test_items(req.track, task), role, req.track.eval, progress)
            atomic_write_jsonl(out / "samples" / f"{task.name}.jsonl", res.samples)
            results.append(res)
    timings["evaluate"] = round(time.perf_counter() - t0, 2)
    return {
        "status": "ok" if ledger["within_budget"] else "over_budget",
        "error": None,
        "tasks": {r.name: r.metrics for r in results},
        **summarize(results),
        "budget": ledger,
        "wall_seconds": timings,
    }
