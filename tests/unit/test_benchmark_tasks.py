"""Real benchmarks as tasks: data through `datasets` from the data directory, prompts, graders, metrics."""

import json
import shutil
from pathlib import Path

import pytest

from harness.schemas import DataSource, TaskConfig
from harness.data import DataUnavailable, SIBLING_DATA_DIR, data_dir
from harness.tasks import load_task
from harness.tasks.benchmarks import ESCITask, gsm8k_target
from harness.tokenizer import build_char_tokenizer
from harness.generation import render_prompt
from harness.track_data import conversation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
needs_shared = pytest.mark.skipif(
    data_dir() is None or not (data_dir() / "gsm8k" / "test.jsonl").is_file(),
    reason=f"shared benchmark data not found (set HARNESS_DATA_DIR; looked at {SIBLING_DATA_DIR})",
)


@needs_shared
def test_gsm8k_subset_is_fixed_and_train_targets_grade_correct():
    task = load_task("gsm8k")
    test = task.split("test", 20, seed=1234)
    assert test == task.split("test", 20, seed=1234) and len(test) == 20
    assert test[0].prompt.endswith("Please reason step by step, and put your final answer within \\boxed{}.")
    train = task.split("train", 30, seed=0)
    grades = task.grade_batch([ex.completion for ex in train], train)
    assert all(g.correct for g in grades)  # every gold target passes its own grader
    assert all("<<" not in ex.completion for ex in train)


def test_gsm8k_target_boxes_the_final_number():
    assert gsm8k_target("She pays 2*3=<<2*3=6>>6.\n#### 1,206") == "She pays 2*3=6.\nThe final answer is $\\boxed{1206}$."


@needs_shared
def test_medcalc_prompt_continues_the_assistant_prefix():
    task = load_task("medcalc")
    ex = task.split("test", 3, seed=0)[0]
    assert ex.prompt[-1]["role"] == "assistant" and "<think>" in ex.prompt[-1]["content"]
    conv = conversation(ex)
    assert conv["prompt"][-1]["role"] == "user"
    assert conv["completion"][0]["content"].startswith(ex.prompt[-1]["content"])
    truth = json.dumps({"answer": ex.answer})
    assert task.grade(f"... </think> <answer>{truth}</answer>", ex).correct


def test_missing_local_file_is_reported_as_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match="gsm8k/test.jsonl"):
        load_task("gsm8k").split("test", 5, seed=0)


def _esci_task(tmp_path, monkeypatch, with_cot):
    (tmp_path / "esci").mkdir()
    shutil.copy(FIXTURES / "esci_rows.jsonl", tmp_path / "esci" / "rows.jsonl")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    cfg = TaskConfig(name="esci-fixture", kind="esci", test_data=DataSource(local=["esci/rows.jsonl"]))
    return ESCITask(cfg, {"with_cot": with_cot})


def test_esci_task_on_fixture_rows_scores_balanced_accuracy(tmp_path, monkeypatch):
    task = _esci_task(tmp_path, monkeypatch, with_cot=False)
    items = task.split("test", 10, seed=0)
    assert [ex.answer for ex in items] == ["E", "S", "C", "I", "E", "S"]
    assert items[0].prompt[-1] == {"role": "assistant", "content": "<answer>"}
    # predict E for everything: recall E = 1, others 0 -> balanced accuracy 1/4
    samples = [{"reference": ex.answer, "extracted": task.grade("0</answer>", ex).extracted} for ex in items]
    head = task.headline(samples, k=1)
    assert head["metric"] == "balanced_accuracy" and head["score"] == pytest.approx(25.0)
    assert head["recall_E"] == 1.0 and head["recall_S"] == 0.0


def test_esci_without_product_text_says_what_is_missing(tmp_path, monkeypatch):
    (tmp_path / "esci").mkdir()
    (tmp_path / "esci" / "labels.jsonl").write_text('{"query": "q", "product_id": "B1", "esci_label": "E"}\n')
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    cfg = TaskConfig(name="esci-labels", kind="esci", test_data=DataSource(local=["esci/labels.jsonl"]))
    with pytest.raises(DataUnavailable, match="product text"):
        ESCITask(cfg, {}).split("test", 1, seed=0)


def test_assistant_prefix_is_continued_not_closed():
    tok = build_char_tokenizer()
    text = render_prompt(tok, [{"role": "user", "content": "copy ab"}, {"role": "assistant", "content": "=a"}])
    assert text == "<|user|>copy ab<|assistant|>=a"
    assert render_prompt(tok, "copy ab") == "<|user|>copy ab<|assistant|>"


@pytest.mark.parametrize("name", ["math500", "aime24", "aime25", "amc23", "gsm8k", "minerva_math", "olympiadbench", "medcalc"])
@needs_shared
def test_every_local_benchmark_loads_and_its_golds_grade(name):
    task = load_task(name)
    items = task.split("test", 5, seed=0)
    assert len(items) == 5
    ok = [task.grade(f"\\boxed{{{ex.answer}}}" if task.config.kind == "math" else
                     f"<answer>{json.dumps({'answer': ex.answer})}</answer>", ex).correct for ex in items]
    assert sum(ok) >= 4, (name, [ex.answer for ex in items])
