"""bench/gpu.py runs end to end on CPU in its --tiny smoke mode: both training paths and both generation paths produce
figures, on the same tokens (a smoke test of the script, not a measurement)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_gpu_tiny_smoke_mode_runs_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "bench" / "gpu.py"), "--device", "cpu", "--tiny", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    wall = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training tokens/s" in done.stdout and "evaluation tokens/s" in done.stdout
    figures = json.loads(out.read_text())
    assert figures["tiny"] is True and figures["device"] == "cpu" and figures["torch_threads"] == 1
    shape = figures["shape"]
    for path in ("harness", "trl"):
        train = figures["train"][path]
        assert train["tokens_per_s"] > 0 and train["steps"] == shape["steps"]
        assert train["tokens_per_step"] == shape["batch_size"] * shape["seq_len"]  # every row exactly seq_len tokens
        assert train["mfu"] is None  # no peak for a CPU unless --peak-tflops
    plain, harness = figures["eval"]["plain generate"], figures["eval"]["harness (transformers)"]
    assert plain["tokens"] == harness["tokens"] > 0  # greedy on the same model: the same tokens either way
    assert figures["flops_per_token"] > 6 * figures["parameters"]  # the tied LM head and attention on top of 6N
    assert figures["wall_seconds"] < 60 and wall < 300, (figures["wall_seconds"], wall)
