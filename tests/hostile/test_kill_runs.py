"""kill -9 a `harness run` and a `harness study` at random moments: nothing that is not finished looks finished, the
leaderboard still builds, and a rerun redoes only what was interrupted.

Each trial picks its moment from a seeded generator (printed, so a failure can be replayed with HOSTILE_KILL_SEED).
The study is killed after its first run finished, somewhere in its second; the run somewhere after its folder
appeared. Both use the micro track (pretrained once per session) and a 3-step budget, so the whole file takes about a
minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile.corpus import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
TRACK = FIXTURES / "micro-track.yaml"
pytestmark = pytest.mark.slow


def _rng() -> random.Random:
    seed = int(os.environ.get("HOSTILE_KILL_SEED", random.randrange(1 << 30)))
    print(f"HOSTILE_KILL_SEED={seed}")
    return random.Random(seed)


def _harness(args: list[str], cache: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """Poll until `ready()` or the process ends; True when ready came first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    raise AssertionError("timed out")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)


def _check_nothing_false_looks_finished(runs: Path) -> dict[Path, int]:
    """Every run folder: finished (a valid ok record, its config and samples written) or plainly not; returns the
    finished ones with their metrics.json's modification time."""
    from harness.runs import is_finished, read_record

    finished = {}
    for config in runs.rglob("config.json"):
        folder = config.parent
        if folder.name == "trainer" or "trainer" in folder.parts:
            continue
        if is_finished(folder):
            record = read_record(folder)  # raises on a torn or foreign record
            assert record.status == "ok", folder
            assert (folder / "samples").is_dir() and any((folder / "samples").iterdir()), folder
            finished[folder] = (folder / "metrics.json").stat().st_mtime_ns
        else:
            metrics = folder / "metrics.json"
            if metrics.exists():  # a failed record may stand; it never counts as finished
                assert json.loads(metrics.read_text())["status"] == "failed", folder
    return finished


def _leaderboard_builds(runs: Path, out: Path, micro_track) -> None:
    from harness.config import track_version
    from harness.render.site import build_site_from_runs

    index = build_site_from_runs(runs, out, {"micro": track_version(micro_track)})
    assert index.is_file()


def test_kill_9_a_study_and_a_run_at_random_moments(micro_track, micro_base, cache_dir, tmp_path):
    rng = _rng()
    runs = tmp_path / "runs"
    study = tmp_path / "study.yaml"
    study.write_text(f"name: killed\ntrack: {TRACK}\nseeds: [0]\nsubmissions:\n"
                     "  - {name: k-sft, method: sft, hyperparameters: {max_steps: 3}}\n"
                     "  - {name: k-dft, method: dft, hyperparameters: {max_steps: 3}}\n")
    first = runs / "micro" / "k-sft" / "seed0" / "metrics.json"
    second = runs / "micro" / "k-dft" / "seed0"

    # The study: killed somewhere in its second run (after the first one finished).
    proc = _harness(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site")], cache_dir)
    assert _wait_for(proc, first.is_file), proc.communicate()
    delay = rng.uniform(0.0, 4.0)
    _wait_for(proc, lambda: second.is_dir())
    time.sleep(delay)
    _kill(proc)
    print(f"study killed {delay:.2f} s into its second run")
    finished = _check_nothing_false_looks_finished(runs)
    assert first.parent in finished
    _leaderboard_builds(runs, tmp_path / "site-1", micro_track)

    # The run: killed a random moment after its folder appeared.
    sub = tmp_path / "sub.yaml"
    sub.write_text("name: k-talr\nmethod: talr\nhyperparameters: {max_steps: 3}\n")
    run_folder = runs / "micro" / "k-talr" / "seed0"
    proc = _harness(["run", str(sub), "--track", str(TRACK), "--runs-dir", str(runs)], cache_dir)
    delay = rng.uniform(0.0, 6.0)
    _wait_for(proc, run_folder.is_dir)
    time.sleep(delay)
    _kill(proc)
    print(f"run killed {delay:.2f} s after its folder appeared")
    finished_after = _check_nothing_false_looks_finished(runs)
    assert {f: t for f, t in finished_after.items() if f in finished} == finished  # nothing finished was touched
    _leaderboard_builds(runs, tmp_path / "site-2", micro_track)

    # Reruns redo only what was interrupted.
    rerun = _harness(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site")], cache_dir)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert "k-sft/seed0 is finished; reusing it" in err.replace("\n", "")
    rerun = _harness(["run", str(sub), "--track", str(TRACK), "--runs-dir", str(runs)], cache_dir)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    done = _check_nothing_false_looks_finished(runs)
    assert {second, run_folder, first.parent} <= set(done)
    assert all(done[f] == t for f, t in finished_after.items())  # finished before: reused, not rewritten
    _leaderboard_builds(runs, tmp_path / "site-3", micro_track)
