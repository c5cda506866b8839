"""Parts of harness/ray_launcher.py that need no Ray: publishing a staged run (folders move into the runs directory
whole, replacing an old one, the training folder of a multi-point run last), the runs a submission reads, and the
errors before any work."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.cli import main
from harness.ray_launcher import publish, reads_runs_of
from harness.study import load_study

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_publish_moves_staged_run_folders_whole_and_replaces_old_ones(tmp_path):
    stage, runs = tmp_path / "stage", tmp_path / "runs"
    (stage / "t/sft/seed0/samples").mkdir(parents=True)
    (stage / "t/sft/seed0/metrics.json").write_text(json.dumps({"status": "ok"}))
    (stage / "t/sft/seed0/samples/a.jsonl").write_text("{}\n")
    (stage / "t/w/seed0").mkdir(parents=True)  # a multi-point run: training folder with points.json ...
    (stage / "t/w/seed0/points.json").write_text(json.dumps({"points": ["alpha=1"]}))
    (stage / "t/w@alpha=1/seed0").mkdir(parents=True)  # ... and its point folder
    (stage / "t/w@alpha=1/seed0/metrics.json").write_text("{}")
    (runs / "t/sft/seed0").mkdir(parents=True)  # an interrupted older attempt: replaced, not merged
    (runs / "t/sft/seed0/config.json").write_text("old")
    published = publish(stage, runs)
    rel = [p.relative_to(runs).as_posix() for p in published]
    assert rel == ["t/sft/seed0", "t/w@alpha=1/seed0", "t/w/seed0"]  # the folder marking the run finished last
    assert sorted(p.name for p in (runs / "t/sft/seed0").iterdir()) == ["metrics.json", "samples"]
    assert not any(p.name.startswith(".") for p in (runs / "t/sft").iterdir())  # the old folder is deleted
    assert not list(stage.rglob("metrics.json"))


def test_a_staged_folder_without_a_record_is_not_published(tmp_path):
    stage, runs = tmp_path / "stage", tmp_path / "runs"
    (stage / "t/sft/seed0").mkdir(parents=True)
    (stage / "t/sft/seed0/config.json").write_text("{}")  # a run killed before it ended
    assert publish(stage, runs) == [] and not runs.exists()


def test_launcher_ray_without_ray_says_what_to_install_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    study = tmp_path / "study.yaml"
    study.write_text(f"name: st\ntrack: {FIXTURES / 'micro-track.yaml'}\nsubmissions:\n  - {{name: s, method: sft}}\n")
    assert main(["study", str(study), "--runs-dir", str(tmp_path / "runs"), "--launcher", "ray"]) == 2
    assert 'pip install -e ".[scale]"' in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main(["study", str(study), "--runs-dir", str(tmp_path / "runs"), "--address", "auto"]) == 2
    assert "--address joins a Ray cluster; it needs --launcher ray" in capsys.readouterr().err


def test_runs_that_read_another_runs_results_wait_for_it():
    _, _, trials = load_study(Path(__file__).resolve().parents[2] / "submissions/studies/rollout-matching.yaml")
    reads = {t.name: reads_runs_of(t.submission) for t in trials}
    assert reads["rm-grpo"] == set()
    assert {name for name, r in reads.items() if r} == {"rm-sft-prompts", "rm-sft-correct", "rm-sft-total"}
    assert all(r == {"rm-grpo"} for r in reads.values() if r)
