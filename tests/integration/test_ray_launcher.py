"""`--launcher ray`: the same runs as the local launcher, staged run folders, retries when a worker dies.

One local Ray session (2 CPUs) is shared by the module; the runs are on the micro track (seconds each).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from harness.cli import main

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e \".[scale]\")")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session(micro_base):
    """One local Ray for the module, started after the micro base model is cached (its env reaches the tasks)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 2**20)
    yield
    ray.shutdown()


def _study(tmp_path: Path, submissions: str, seeds: str = "[0, 1]") -> Path:
    study = tmp_path / "study.yaml"
    study.write_text(f"name: ray-test\ntrack: {FIXTURES / 'micro-track.yaml'}\nseeds: {seeds}\nsubmissions:\n{submissions}")
    return study


TWO = "  - {name: sft, method: sft}\n  - {name: sft-small, method: sft, hyperparameters: {learning_rate_scale: 0.1}}\n"


def _metrics(runs: Path) -> dict[str, dict]:
    out = {}
    for f in sorted(runs.glob("micro/*/seed*/metrics.json")):
        record = json.loads(f.read_text())
        record.pop("wall_seconds")
        out[f.parent.relative_to(runs).as_posix()] = record
    return out


def test_ray_gives_the_local_launchers_metrics_and_never_redoes_a_run(ray_session, tmp_path, capsys):
    study = _study(tmp_path, TWO)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(["study", str(study), "--runs-dir", str(local), "--out", str(tmp_path / "site1")]) == 0
    assert main(["study", str(study), "--runs-dir", str(on_ray), "--out", str(tmp_path / "site2"),
                 "--launcher", "ray"]) == 0
    err = capsys.readouterr().err
    assert "[4/4 done, 0 running, 0 queued, 0 failed]" in err
    assert re.search(r"\[\d/4 done, [12] running, \d queued, 0 failed\]", err)  # workers seen running (2 CPUs)
    a, b = _metrics(local), _metrics(on_ray)
    assert sorted(a) == ["micro/sft-small/seed0", "micro/sft-small/seed1", "micro/sft/seed0", "micro/sft/seed1"]
    assert a == b  # scores, every task metric, the budget ledger: exactly the same
    for run in a:
        for name in ("parity", "copy", "reverse"):
            assert (local / run / "samples" / f"{name}.jsonl").read_text() == (on_ray / run / "samples" / f"{name}.jsonl").read_text()
    assert not (on_ray / ".staging").exists()  # the driver's staging folder is gone
    # Finished runs are skipped before anything is submitted.
    stamps = {f: f.stat().st_mtime_ns for f in on_ray.glob("micro/*/seed*/metrics.json")}
    assert main(["study", str(study), "--runs-dir", str(on_ray), "--out", str(tmp_path / "site2"),
                 "--launcher", "ray"]) == 0
    assert "4 of 4 runs finished already; 0 to run on Ray" in capsys.readouterr().err
    assert stamps == {f: f.stat().st_mtime_ns for f in on_ray.glob("micro/*/seed*/metrics.json")}


def _kill_first_worker(runs: Path, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker seen running a run (its worker.json appears when the task starts; killed once
    the run has written its config.json, i.e. mid-run)."""
    while not stop.is_set() and not killed:
        for worker in runs.glob(".staging/*/*/worker.json"):
            if any(worker.parent.glob("micro/*/seed*/config.json")):
                pid = json.loads(worker.read_text())["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.02)


def _with_killer(runs: Path, argv: list[str]) -> tuple[int, list[int]]:
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_worker, args=(runs, killed, stop), daemon=True)
    killer.start()
    try:
        code = main(argv)
    finally:
        stop.set()
        killer.join()
    return code, killed


def test_a_killed_worker_is_retried_and_the_study_finishes(ray_session, tmp_path, capsys):
    study = _study(tmp_path, "  - {name: sft, method: sft}\n", seeds="[0]")
    runs = tmp_path / "runs"
    code, killed = _with_killer(runs, ["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site"),
                                       "--launcher", "ray", "--max-retries", "2"])
    assert killed, "no worker was seen running"
    assert code == 0
    assert "[1/1 done, 0 running, 0 queued, 0 failed]" in capsys.readouterr().err
    record = json.loads((runs / "micro" / "sft" / "seed0" / "metrics.json").read_text())
    assert record["status"] == "ok" and record["budget"]["used"]["gradient_tokens"] == 1500
    assert not (runs / ".staging").exists()


def test_a_worker_killed_with_no_retries_left_is_recorded_as_failed_whole(ray_session, tmp_path, capsys):
    study = _study(tmp_path, "  - {name: sft, method: sft}\n", seeds="[0]")
    runs = tmp_path / "runs"
    code, killed = _with_killer(runs, ["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site"),
                                       "--launcher", "ray", "--max-retries", "0"])
    assert killed and code == 1
    err = capsys.readouterr().err
    assert "[0/1 done, 0 running, 0 queued, 1 failed] sft seed 0 failed" in err
    folder = runs / "micro" / "sft" / "seed0"
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "failed" and "WorkerCrashedError" in record["error"] and "retries" in record["error"]
    # Never half-written: only the failure record, nothing the killed worker had staged.
    assert sorted(p.name for p in folder.iterdir()) == ["error.json", "metrics.json"]
    # The next study redoes it.
    assert main(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site"), "--launcher", "ray"]) == 0
    assert json.loads((folder / "metrics.json").read_text())["status"] == "ok"


def test_a_sweep_runs_its_trials_on_ray_and_a_run_too_big_for_the_machine_is_refused(ray_session, tmp_path, capsys):
    sub = tmp_path / "sw.yaml"
    sub.write_text("name: sw\nmethod: sft\nhyperparameters: {learning_rate: [1.0e-3, 3.0e-3]}\n")
    runs = tmp_path / "runs"
    track = FIXTURES / "micro-track.yaml"
    assert main(["run", str(sub), "--track", str(track), "--runs-dir", str(runs), "--launcher", "ray"]) == 0
    assert "[2/2 done, 0 running, 0 queued, 0 failed]" in capsys.readouterr().err
    assert sorted(p.parent.parent.name for p in runs.glob("micro/sw/trial-*/seed0/metrics.json")) == [
        "trial-learning_rate=0.001", "trial-learning_rate=0.003"]
    big = tmp_path / "micro-big.yaml"  # the same track asking for more CPUs than the local Ray has
    big.write_text(track.read_text() + "resources: {cpus: 64, memory_gb: 1}\n")
    assert main(["run", str(sub), "--track", str(big), "--runs-dir", str(tmp_path / "big"), "--launcher", "ray"]) == 2
    err = capsys.readouterr().err
    assert "resources" in err and "CPU 64" in err and "--address" in err
    assert not list((tmp_path / "big").rglob("metrics.json"))


def test_a_run_that_reads_another_runs_rollouts_starts_after_it(ray_session, tmp_path):
    study = _study(tmp_path, "  - {name: g, method: grpo, hyperparameters: {num_generations: 4, per_device_train_batch_size: 8, "
                   "max_steps: 2}}\n  - {name: m, method: sft, data: {recipe: self, match: {submission: g, by: prompts}, "
                   "samples_per_prompt: 4}}\n", seeds="[0]")
    runs = tmp_path / "runs"
    assert main(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site"), "--launcher", "ray"]) == 0
    g, m = runs / "micro/g/seed0", runs / "micro/m/seed0"
    assert json.loads((m / "metrics.json").read_text())["status"] == "ok"
    # m started (wrote its config) only once g had finished (its metrics.json is written last).
    assert (m / "config.json").stat().st_mtime >= (g / "metrics.json").stat().st_mtime
