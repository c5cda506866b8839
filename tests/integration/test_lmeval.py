"""General benchmarks through lm-eval, offline, on a tiny model: scores normalised, samples kept, gaps reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install lm-eval==0.4.13)")

from harness.data import data_dir  # noqa: E402

SHARED = data_dir()
NEEDED = ["arc_easy/ARC-Easy-Test.jsonl", "piqa/valid.jsonl", "piqa/valid-labels.lst", "mmlu/test"]
if SHARED is None or not all((SHARED / rel).exists() for rel in NEEDED):
    pytest.skip(f"shared benchmark data absent (need {', '.join(NEEDED)} under a data directory)", allow_module_level=True)

BASELINES = Path(__file__).resolve().parents[2] / "submissions" / "baselines"

SUITE = """
name: test-suite
tasks:
  - {name: arc_easy, lm_eval_task: arc_easy, metric: acc_norm, local: arc_easy}
  - {name: piqa, lm_eval_task: piqa, metric: acc, local: piqa}
  - {name: mmlu, lm_eval_task: mmlu, metric: acc, local: mmlu}
  - {name: hellaswag, lm_eval_task: hellaswag, metric: acc_norm, local: hellaswag}
  - {name: gpqa_diamond, lm_eval_task: gpqa_diamond_zeroshot, metric: acc_norm, unavailable_reason: "no local copy"}
  - {name: humaneval, lm_eval_task: humaneval, metric: pass@1, filter: create_test, local: humaneval, unsafe_code: true}
"""


@pytest.fixture()
def partial_data_dir(tmp_path, monkeypatch) -> Path:
    """A data directory holding ARC-Easy, PIQA and MMLU but not HellaSwag (so it must be reported unavailable)."""
    root = tmp_path / "data"
    for rel in ("arc_easy", "piqa", "mmlu", "humaneval"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(SHARED / rel)
    monkeypatch.setenv("HARNESS_DATA_DIR", str(root))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


@pytest.fixture()
def tiny_model():
    """A random tiny Llama on a character tokenizer with a chat template, with room for lm-eval's long prompts."""
    import string

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    special = ["<pad>", "<bos>", "<eos>", "<unk>", "<|user|>", "<|assistant|>"]
    vocab = {t: i for i, t in enumerate(special + sorted(set(string.printable)))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    core.decoder = decoders.Fuse()
    core.add_special_tokens(special)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                  unk_token="<unk>", extra_special_tokens=["<|user|>", "<|assistant|>"])
    tok.chat_template = ("{% for m in messages %}{% if m['role'] == 'user' %}{{ '<|user|>' + m['content'] }}"
                         "{% else %}{{ '<|assistant|>' + m['content'] + '<eos>' }}{% endif %}{% endfor %}"
                         "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(cfg), tok


def test_suite_runs_offline_and_reports_what_it_could_not_run(cache_dir, tiny_model, partial_data_dir, tmp_path):
    from harness.schemas import GeneralSuiteConfig
    from harness.evaluate import summarize
    from harness.lmeval import run_suite

    suite = tmp_path / "test-suite.yaml"
    suite.write_text(SUITE)
    model, tok = tiny_model
    out = tmp_path / "run"
    outcome = run_suite(model, tok, GeneralSuiteConfig(name=str(suite), limit=6, batch_size=8), out)

    assert [r.name for r in outcome.results] == ["arc_easy", "piqa", "mmlu"]
    for r in outcome.results:
        m = r.metrics
        assert r.role == m["role"] == "general" and m["source"] == "lm-eval"
        assert 0 <= m["score"] <= 100 and m["n"] == 6 and len(m["item_scores"]) == 6
        assert set(m["item_scores"]) <= {0.0, 1.0}
        assert m["score"] == pytest.approx(100 * sum(m["item_scores"]) / 6, abs=1e-3)  # acc is the item mean, in points
        lines = (out / "samples" / f"lmeval-{r.name}.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        assert [row["doc_id"] for row in rows] == list(range(6))
        assert {"doc_id", "target", "response", m["metric"]} <= set(rows[0])
    assert outcome.results[0].metrics["lm_eval_task"] == "arc_easy"

    tasks = outcome.record["tasks"]
    assert tasks["hellaswag"]["status"] == "unavailable" and "hellaswag/hellaswag_val.jsonl" in tasks["hellaswag"]["reason"]
    assert tasks["gpqa_diamond"] == {"status": "unavailable", "reason": "no local copy"}
    assert tasks["humaneval"]["status"] == "skipped" and "allow-code-execution" in tasks["humaneval"]["reason"]
    assert outcome.record["unavailable"] == ["hellaswag", "gpqa_diamond", "humaneval"]
    assert outcome.record["code_execution"] == {"allowed": False, "executed": False}
    assert outcome.record["mode"] == "local" and outcome.record["data_dir"] == str(partial_data_dir)
    assert not (out / "samples" / "lmeval-humaneval.jsonl").exists()
    # The generated task files point at the data directory with absolute paths.
    assert str(partial_data_dir.resolve()) in (out / "lmeval" / "tasks" / "harness_arc_easy.yaml").read_text()

    general = summarize(outcome.results)["general"]
    assert general == pytest.approx(sum(r.metrics["score"] for r in outcome.results) / 3, abs=1e-3)


def test_run_merges_the_suite_into_metrics(micro_base, micro_track, partial_data_dir, tmp_path):
    """A base run on the micro track plus a one-task suite: lm-eval's task lands beside the harness's own."""
    from harness.schemas import GeneralSuiteConfig
    from harness.submissions import load_submission
    from harness.runner import RunRequest, execute_run

    suite = tmp_path / "mmlu-only.yaml"
    suite.write_text("name: mmlu-only\ntasks:\n"
                     "  - {name: mmlu, lm_eval_task: mmlu, metric: acc, local: mmlu}\n"
                     "  - {name: hellaswag, lm_eval_task: hellaswag, metric: acc_norm, local: hellaswag}\n")
    track = micro_track.model_copy(update={"general_suite": GeneralSuiteConfig(name=str(suite), limit=4)})
    sub = load_submission(BASELINES / "base.yaml")
    [metrics] = execute_run(RunRequest(sub, track, 0, tmp_path / "runs"))

    assert metrics["tasks"]["mmlu"]["role"] == "general" and metrics["tasks"]["mmlu"]["source"] == "lm-eval"
    assert "hellaswag" not in metrics["tasks"]  # unavailable: listed in general_suite, not scored
    assert metrics["general_suite"]["tasks"]["hellaswag"]["status"] == "unavailable"
    general = [t["score"] for t in metrics["tasks"].values() if t["role"] == "general"]
    assert len(general) == 3 and metrics["general"] == pytest.approx(sum(general) / 3, abs=1e-3)  # copy, reverse, mmlu
    assert "general_suite" in metrics["wall_seconds"]
    on_disk = json.loads((tmp_path / "runs" / "micro" / "base" / "seed0" / "metrics.json").read_text())
    assert on_disk["general_suite"]["name"] == "mmlu-only"
    assert (tmp_path / "runs" / "micro" / "base" / "seed0" / "samples" / "lmeval-mmlu.jsonl").is_file()


def test_code_execution_needs_permission(monkeypatch):
    from harness.lmeval_code import pass_at_k

    monkeypatch.delenv("HF_ALLOW_CODE_EVAL", raising=False)
    with pytest.raises(PermissionError):
        pass_at_k(["assert f() == 1"], [["def f():\n    return 1"]], k=[1])
    monkeypatch.setenv("HF_ALLOW_CODE_EVAL", "1")
    assert pass_at_k(["assert f() == 1"], [["def f():\n    return 1"]], k=[1]) == {"pass@1": 1.0}
    assert pass_at_k(["assert f() == 1"], [["def f():\n    return 2"]], k=[1]) == {"pass@1": 0.0}
    assert pass_at_k(["f()"], [["def f():\n    while True: pass"]], k=[1]) == {"pass@1": 0.0}  # timed out
    assert os.environ["HF_ALLOW_CODE_EVAL"] == "1"


def _gpu_track_suites() -> dict[str, list[str]]:
    """suite name -> the GPU tracks (tasks/tracks/qwen-*-gpu.yaml) that use it."""
    from harness.config import load_track
    from harness.discovery import list_tracks

    suites: dict[str, list[str]] = {}
    for name in list_tracks():
        if name.endswith("-gpu"):
            suites.setdefault(load_track(name).general_suite.name, []).append(name)
    return suites


GPU_SUITES = _gpu_track_suites()
EXPECTED = {  # what runs offline on the shared data, in suite order; the rest must be reported unavailable
    "seed004-general": ["ifeval", "gsm8k_5shot", "humaneval", "hellaswag", "arc_easy", "arc_challenge", "piqa", "mmlu"],
    "seed000-general": ["arc_challenge", "bbh", "openbookqa", "piqa"],
}
SUITE_DIRS = {"seed004-general": ["ifeval", "gsm8k", "humaneval", "hellaswag", "arc_easy", "arc_challenge", "piqa", "mmlu"],
              "seed000-general": ["arc_challenge", "bbh", "openbookqa", "piqa"]}


def test_every_gpu_track_has_a_general_suite_this_file_runs():
    assert sorted(GPU_SUITES) == sorted(EXPECTED)
    assert sorted(GPU_SUITES["seed004-general"]) == ["qwen-esci-cot-gpu", "qwen-esci-nocot-gpu", "qwen-medcalc-gpu"]
    assert GPU_SUITES["seed000-general"] == ["qwen-math-gpu"]


@pytest.mark.parametrize("suite_name", sorted(EXPECTED))
def test_gpu_track_suite_runs_offline_on_the_shared_data(suite_name, cache_dir, tiny_model, tmp_path, monkeypatch):
    """The suite of the GPU tracks, as those tracks set it (limit lowered to 2 documents per task, 8 new tokens):
    every task with local data runs offline and is scored (HumanEval too, with permission), generation tasks (IFEval,
    GSM8K 5-shot, HumanEval, BBH chain of thought) as well as multiple choice; the others are reported unavailable."""
    from harness.config import load_track
    from harness.lmeval import run_suite

    if not all((SHARED / d).is_dir() for d in SUITE_DIRS[suite_name]):
        pytest.skip(f"the shared data directory lacks one of the {suite_name} benchmarks")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(SHARED))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    track = load_track(GPU_SUITES[suite_name][0])
    gs = track.general_suite.model_copy(update={"limit": 2, "batch_size": 8, "max_gen_toks": 8})
    model, tok = tiny_model
    out = tmp_path / "run"
    outcome = run_suite(model, tok, gs, out, allow_code_execution=True)

    names = [r.name for r in outcome.results]
    assert names == EXPECTED[suite_name]
    assert outcome.record["unavailable"] == [n for n in outcome.record["tasks"] if n not in names]
    for n in outcome.record["unavailable"]:
        assert outcome.record["tasks"][n]["status"] == "unavailable" and outcome.record["tasks"][n]["reason"]
    assert outcome.record["lm_eval_model"] == "HFLM"
    for r in outcome.results:
        assert 0 <= r.metrics["score"] <= 100 and r.metrics["n"] >= 2, r.name
        assert (out / "samples" / f"lmeval-{r.name}.jsonl").is_file()
    by_name = {r.name: r.metrics for r in outcome.results}
    if suite_name == "seed004-general":
        assert outcome.record["code_execution"] == {"allowed": True, "executed": True}
        assert by_name["ifeval"]["metric"] == "inst_level_strict_acc"
        assert by_name["gsm8k_5shot"]["n_shot"] == 5
        assert {by_name[t]["metric"] for t in ("hellaswag", "arc_easy", "arc_challenge", "piqa", "mmlu")} == {"acc"}
    else:
        assert len(outcome.record["tasks"]) == 12 and by_name["bbh"]["n"] == 2 * 27  # 2 documents of each BBH task
