"""Speed figures of the harness on this machine. Prints a table; asserts nothing.

    python bench/bench.py [--track tiny-parity] [--fresh-pretrain] [--repeats 3]

- pretraining time of the track's base model (from its cache record, or measured with --fresh-pretrain)
- training tokens/s per method (processed and gradient tokens, under the track's budget)
- evaluation samples/s over all of the track's tasks
- the demo's wall time with the base model cached (`harness demo --force` into a temporary runs dir)
- the harness's overhead: the same TRL SFT run with and without the meter (collator wrap + callback)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

from rich.console import Console
from rich.table import Table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--track", default="tiny-parity")
    ap.add_argument("--fresh-pretrain", action="store_true", help="pretrain into an empty cache to time it")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()

    from harness.cli import _quiet_libraries

    _quiet_libraries()
    import torch

    from harness.budget import BudgetMeter, attach_meter, count_parameters
    from harness.config import load_track
    from harness.evaluate import evaluate_task
    from harness.methods import TrainContext, config_class, get_method
    from harness.models import load_saved_model
    from harness.pretrain import ensure_base_model
    from harness.track_data import domain_train_examples, eval_tasks, test_items, to_dataset

    console = Console()
    rows: list[tuple[str, str]] = []
    track = load_track(args.track)
    rows.append(("torch threads", str(torch.get_num_threads())))

    if args.fresh_pretrain:
        previous = os.environ.get("HARNESS_CACHE_DIR")
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["HARNESS_CACHE_DIR"] = tmp
            t0 = time.perf_counter()
            ensure_base_model(track)
            rows.append(("pretraining (fresh, incl. base eval)", f"{time.perf_counter() - t0:.1f} s"))
        if previous is None:
            os.environ.pop("HARNESS_CACHE_DIR")
        else:
            os.environ["HARNESS_CACHE_DIR"] = previous
    path = ensure_base_model(track)
    record = json.loads((path / "base_scores.json").read_text())
    rows.append(("pretraining (cache record)", f"{record['pretrain_seconds']:.1f} s, {track.base_model.pretrain.steps} steps"))
    rows.append(("base model scores", ", ".join(f"{k} {v['score']:.0f}" for k, v in record["scores"].items())))

    data = to_dataset(domain_train_examples(track))

    def trainer_for(method: str, out: Path, metered: bool):
        model, tok = load_saved_model(path)
        ctx = TrainContext(model=model, tokenizer=tok, train_dataset=data, output_dir=out, seed=0,
                           track=MappingProxyType({}), max_length=track.training.max_length)
        hp = config_class(method).parse({"max_steps": 60} if not metered else {})
        trainer = get_method(method).build_trainer(ctx, hp)
        meter = None
        if metered:
            meter = BudgetMeter(track.budget, count_parameters(model))
            attach_meter(trainer, meter)
        return trainer, meter

    with tempfile.TemporaryDirectory() as tmp:
        for method in ("sft", "dft", "talr"):
            trainer, meter = trainer_for(method, Path(tmp) / method, metered=True)
            t0 = time.perf_counter()
            trainer.train()
            dt = time.perf_counter() - t0
            used = meter.ledger
            rows.append((f"train {method}", f"{used.processed_tokens / dt:,.0f} tokens/s ({used.gradient_tokens / dt:,.0f} gradient tokens/s), "
                         f"{used.optimizer_steps} steps in {dt:.1f} s"))

        # Overhead: identical 60-step SFT runs, plain TRL vs. metered, alternated.
        plain, metered = [], []
        for i in range(args.repeats):
            for kind, sink in (("plain", plain), ("metered", metered)):
                trainer, meter = trainer_for("sft", Path(tmp) / f"{kind}{i}", metered=False)
                if kind == "metered":
                    meter = BudgetMeter(track.budget.model_copy(update={"gradient_tokens": None}), count_parameters(trainer.model))
                    attach_meter(trainer, meter)
                t0 = time.perf_counter()
                trainer.train()
                sink.append(time.perf_counter() - t0)
        p, m = statistics.median(plain), statistics.median(metered)
        rows.append(("TRL SFT 60 steps, plain (median)", f"{p:.2f} s  ({', '.join(f'{x:.2f}' for x in plain)})"))
        rows.append(("same, with the harness meter (median)", f"{m:.2f} s  ({', '.join(f'{x:.2f}' for x in metered)})"))
        rows.append(("harness overhead", f"{100 * (m - p) / p:+.1f}%"))

    model, tok = load_saved_model(path)
    n = 0
    t0 = time.perf_counter()
    for task, role in eval_tasks(track):
        items = test_items(track, task)
        evaluate_task(model, tok, task, items, role, track.eval)
        n += len(items) * track.eval.k
    dt = time.perf_counter() - t0
    rows.append(("evaluation", f"{n / dt:,.0f} samples/s ({n} samples, {dt:.1f} s)"))

    if not args.skip_demo:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "harness.cli", "demo", "--track", args.track, "--runs-dir", f"{tmp}/runs",
                            "--out", f"{tmp}/site"], check=True, capture_output=True)
            rows.append(("demo wall time (base model cached)", f"{time.perf_counter() - t0:.1f} s"))

    table = Table(title=f"bench: {args.track}")
    table.add_column("measure")
    table.add_column("figure")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


if __name__ == "__main__":
    main()
