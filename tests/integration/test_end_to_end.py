"""The whole path on the micro track: pretrain (cached), train under the meter, evaluate, store, score, render."""

import json
import os
from pathlib import Path

import pytest

from harness.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRACK = str(FIXTURES / "micro-track.yaml")
BASELINES = Path(__file__).resolve().parents[2] / "submissions" / "baselines"

pytestmark = pytest.mark.slow


def _metrics(runs: Path, sub: str, seed: int = 0) -> dict:
    return json.loads((runs / "micro" / sub / f"seed{seed}" / "metrics.json").read_text())


def _strip_timing(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "wall_seconds"}


def test_base_model_is_cached_and_scored(micro_base, micro_track):
    from harness.pretrain import ensure_base_model

    path, scores = micro_base
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    assert set(scores["scores"]) == {"parity", "copy", "reverse"}
    mtime = (path / "base_scores.json").stat().st_mtime
    assert ensure_base_model(micro_track) == path  # second call reuses the cache
    assert (path / "base_scores.json").stat().st_mtime == mtime


def test_run_writes_a_complete_run_directory(micro_base, tmp_path):
    runs = tmp_path / "runs"
    assert main(["run", str(BASELINES / "sft.yaml"), "--track", TRACK, "--runs-dir", str(runs)]) == 0
    d = runs / "micro" / "sft" / "seed0"
    for f in ("config.json", "provenance.json", "ledger.json", "metrics.json", "samples/parity.jsonl"):
        assert (d / f).is_file(), f
    m = _metrics(runs, "sft")
    assert m["status"] == "ok" and m["track"] == "micro" and m["seed"] == 0
    assert set(m["tasks"]) == {"parity", "copy", "reverse"}
    assert m["tasks"]["parity"]["role"] == "domain" and m["tasks"]["copy"]["role"] == "general"
    assert m["domain"] == m["tasks"]["parity"]["score"]
    assert m["general"] == pytest.approx((m["tasks"]["copy"]["score"] + m["tasks"]["reverse"]["score"]) / 2)
    assert m["budget"]["used"]["gradient_tokens"] == 1500  # the micro track's cap, reached exactly
    assert m["budget"]["within_budget"] and m["budget"]["stopped_by_cap"] == "gradient_tokens"
    sample = json.loads((d / "samples" / "parity.jsonl").read_text().splitlines()[0])
    assert {"prompt", "completion", "extracted", "correct", "length", "finish_reason"} <= set(sample)
    assert len(m["tasks"]["parity"]["item_scores"]) == 24
    prov = json.loads((d / "provenance.json").read_text())
    assert prov["packages"]["trl"] and prov["torch_threads"] >= 1


def test_same_seed_gives_identical_metrics_and_finished_runs_are_not_redone(micro_base, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for runs in (a, b):
        assert main(["run", str(BASELINES / "talr.yaml"), "--track", TRACK, "--runs-dir", str(runs)]) == 0
    assert _strip_timing(_metrics(a, "talr")) == _strip_timing(_metrics(b, "talr"))
    assert (a / "micro/talr/seed0/samples/copy.jsonl").read_bytes() == (b / "micro/talr/seed0/samples/copy.jsonl").read_bytes()

    done = a / "micro/talr/seed0/metrics.json"
    mtime = done.stat().st_mtime_ns
    assert main(["run", str(BASELINES / "talr.yaml"), "--track", TRACK, "--runs-dir", str(a)]) == 0
    assert done.stat().st_mtime_ns == mtime  # reused

    # an interrupted run leaves no metrics.json: the next invocation redoes it
    done.unlink()
    assert main(["run", str(BASELINES / "talr.yaml"), "--track", TRACK, "--runs-dir", str(a)]) == 0
    assert _strip_timing(_metrics(a, "talr")) == _strip_timing(_metrics(b, "talr"))


def test_base_then_leaderboard_and_compare(micro_base, tmp_path, capsys):
    runs, site = tmp_path / "runs", tmp_path / "site"
    for sub in ("base", "sft"):
        assert main(["run", str(BASELINES / f"{sub}.yaml"), "--track", TRACK, "--runs-dir", str(runs)]) == 0
    base = _metrics(runs, "base")
    assert base["budget"]["used"]["gradient_tokens"] == 0
    from harness.config import load_track, track_version
    from harness.render.site import build_site_from_runs

    index = build_site_from_runs(runs, site, {"micro": track_version(load_track(TRACK))})
    assert index.is_file()
    html = (site / "index.html").read_text()
    assert "micro" in html
    capsys.readouterr()
    assert main(["compare", "base", "sft", "--track", "micro", "--runs-dir", str(runs), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in out["rows"]}
    assert {"parity", "copy", "reverse", "domain", "general"} <= set(rows)
    sft = _metrics(runs, "sft")
    assert rows["parity"]["diff"] == pytest.approx(sft["tasks"]["parity"]["score"] - base["tasks"]["parity"]["score"])
    assert rows["parity"]["low"] <= rows["parity"]["diff"] <= rows["parity"]["high"]


def test_a_run_whose_evaluation_template_differs_from_training_is_refused(micro_base, tmp_path, monkeypatch):
    from harness.methods.sft import SFTMethod
    from harness.runner import TemplateMismatch

    original = SFTMethod.train

    def train_then_swap_template(self, ctx, config, meter):
        model = original(self, ctx, config, meter)
        ctx.tokenizer.chat_template = ctx.tokenizer.chat_template.replace("<|assistant|>", "<|assistant|> ")
        return model

    monkeypatch.setattr(SFTMethod, "train", train_then_swap_template)
    runs = tmp_path / "runs"
    with pytest.raises(TemplateMismatch):
        main(["run", str(BASELINES / "sft.yaml"), "--track", TRACK, "--runs-dir", str(runs)])
    assert _metrics(runs, "sft")["status"] == "failed"
    assert not list((runs / "micro" / "sft" / "seed0").glob("samples/*.jsonl"))
