"""One run on several processes (harness/processes.py, the meter's sums across processes).

The launcher is read from the environment and unsupported ones are refused before any work; two CPU
processes (gloo) under `accelerate launch` stop at the same gradient-token cap as one process with the same
global batch, write one run folder, and their ledger is the one-process ledger.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.processes import Processes, UnsupportedLauncher, detect

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TORCH_ENV = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


def test_the_launcher_is_read_from_the_environment():
    assert detect({}) == Processes()
    assert detect({"WORLD_SIZE": "1", "RANK": "0"}) == Processes()
    assert detect({**TORCH_ENV, "TORCHELASTIC_RUN_ID": "x"}) == Processes(2, 1, 1, "torchrun")
    assert detect({**TORCH_ENV, "ACCELERATE_MIXED_PRECISION": "no"}) == Processes(2, 1, 1, "accelerate")
    assert not detect({**TORCH_ENV, "RANK": "1"}).is_main and detect({**TORCH_ENV, "RANK": "0"}).is_main
    # A Slurm job of several tasks that starts the harness once is one process.
    assert detect({"SLURM_NTASKS": "8"}) == Processes()


@pytest.mark.parametrize("env, says", [
    ({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"}, "OMPI_COMM_WORLD_SIZE=2"),
    ({"PMI_SIZE": "4"}, "PMI_SIZE=4"),
    ({"SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1"}, "SLURM_STEP_NUM_TASKS=2"),
    ({**TORCH_ENV, "ACCELERATE_USE_DEEPSPEED": "true"}, "DeepSpeed"),
    ({**TORCH_ENV, "ACCELERATE_USE_FSDP": "true"}, "FSDP"),
    ({"WORLD_SIZE": "2", "RANK": "0"}, "LOCAL_RANK, MASTER_ADDR, MASTER_PORT not set"),
    ({**TORCH_ENV, "RANK": "5"}, "RANK=5"),
])
def test_unsupported_launchers_are_refused_with_what_to_do(env, says):
    with pytest.raises(UnsupportedLauncher, match="accelerate launch --num_processes N") as err:
        detect(env)
    assert says in str(err.value)


def test_an_unsupported_launcher_fails_before_any_work(tmp_path, monkeypatch, capsys):
    sub = tmp_path / "s.yaml"
    sub.write_text("name: s\nmethod: sft\n")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert main(["run", str(sub), "--track", str(FIXTURES / "micro-track.yaml"), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "OMPI_COMM_WORLD_SIZE=2" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    for key, value in TORCH_ENV.items():
        monkeypatch.setenv(key, value)
    study = tmp_path / "study.yaml"
    study.write_text(f"name: st\ntrack: {FIXTURES / 'micro-track.yaml'}\nsubmissions: [{sub}]\n")
    assert main(["study", str(study), "--runs-dir", str(tmp_path / "runs")]) == 2  # a study is one process
    assert "only `harness run` runs on several processes" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate") is None, reason="the accelerate command is not on PATH")
def test_two_processes_stop_at_the_one_process_cap_with_its_ledger(micro_base, tmp_path):
    track = str(FIXTURES / "micro-track.yaml")  # gradient-token cap 1500: binds after about 16 steps of 8
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    # The same global batch of 8 sequences: 2 micro-batches of 4 in one process, 4 on each of two processes.
    one.write_text("name: sft\nmethod: sft\nhyperparameters: {per_device_train_batch_size: 4, gradient_accumulation_steps: 2}\n")
    two.write_text("name: sft\nmethod: sft\nhyperparameters: {per_device_train_batch_size: 4}\n")
    assert main(["run", str(one), "--track", track, "--runs-dir", str(tmp_path / "r1")]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])}
    # On a machine without GPUs, --multi_gpu is what makes accelerate start N torch.distributed processes (gloo).
    cmd = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", "0", "-m", "harness.cli", "run", str(two), "--track", track,
           "--runs-dir", str(tmp_path / "r2")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    folders = sorted(p.parent.relative_to(tmp_path / "r2").as_posix() for p in (tmp_path / "r2").rglob("metrics.json"))
    assert folders == ["micro/sft/seed0"]  # one run folder, written by rank 0
    a = json.loads((tmp_path / "r1/micro/sft/seed0/ledger.json").read_text())
    b = json.loads((tmp_path / "r2/micro/sft/seed0/ledger.json").read_text())
    assert a["used"]["gradient_tokens"] == b["used"]["gradient_tokens"] == 1500
    assert a["stopped_by_cap"] == b["stopped_by_cap"] == "gradient_tokens"
    assert a["used"]["optimizer_steps"] == b["used"]["optimizer_steps"]
    # Within one micro-batch (here: the same sequences in the same order, so equal).
    assert abs(a["used"]["processed_tokens"] - b["used"]["processed_tokens"]) <= 4 * 40
    assert a["used"] == b["used"]
    record = json.loads((tmp_path / "r2/micro/sft/seed0/metrics.json").read_text())
    assert record["status"] == "ok" and set(record["tasks"]) == {"parity", "copy", "reverse"}
