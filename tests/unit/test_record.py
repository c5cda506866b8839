"""The typed run record: byte-stable round trips, refused schemas, and docs/runs.md checked against the models."""

import json
import re
from pathlib import Path

import pytest

from harness.record import SCHEMA_VERSION, RecordError, RunRecord, record_models
from harness.runs import read_record, write_record

DOCS = Path(__file__).resolve().parents[2] / "docs" / "runs.md"

RECORD = {
    "schema": 1, "track": "tiny-parity", "track_version": "3f2a9c1e0b7d", "submission": "sft",
    "description": "SFT", "method": "sft", "hyperparameters": {"learning_rate": 0.0001}, "seed": 0, "point": None,
    "status": "ok", "error": None,
    "tasks": {
        "parity": {"role": "domain", "score": 51.0, "metric": "avg@1", "n": 2, "k": 1, "avg@k": 0.5, "pass@k": 0.5,
                   "mean_length": 2.0, "truncated": 0.0, "extraction_failures": 0.0, "wrong_answers": 0.5,
                   "task_version": 1, "item_scores": [1.0, 0.0], "recall_exact": 0.25},
        "mmlu": {"role": "general", "score": 50, "metric": "acc", "n": 2, "item_scores": [1, 0], "source": "lm-eval",
                 "lm_eval_task": "mmlu", "lm_eval_run_as": "harness_mmlu", "stderr": None, "n_shot": 0,
                 "task_version": 1.0, "wall_seconds": 3.2},
    },
    "domain": 51.0, "general": 50.0,
    "general_suite": {"name": "cpu-general", "limit": 2, "apply_chat_template": True, "unavailable": ["gpqa"],
                      "dropped": [], "tasks": {"gpqa": {"status": "unavailable", "reason": "no data"}}},
    "template": {"chat_template_sha256": "ab", "eos_token": "</s>"},
    "budget": {"caps": {"gradient_tokens": 200000, "rollouts": None},
               "used": {"gradient_tokens": 199872, "train_flops": 1.2e12, "parameters": 500000},
               "within_budget": True, "stopped_by_cap": "gradient_tokens"},
    "wall_seconds": {"train": 12.1, "evaluate": 5},
    "data_recipe": None,
    "curve": [{"step": 0, "score": 49.5, "mean_length": 2.0}],
}


def test_a_record_is_written_back_byte_for_byte(tmp_path):
    record = RunRecord.model_validate(RECORD)
    assert json.dumps(record.to_json_dict(), indent=2) == json.dumps(RECORD, indent=2)
    write_record(tmp_path, record)
    again = read_record(tmp_path)
    assert again.run_dir == str(tmp_path) and "run_dir" not in again.to_json_dict()
    assert (tmp_path / "metrics.json").read_text() == json.dumps(RECORD, indent=2) + "\n"
    assert again.tasks["mmlu"].score == 50 and isinstance(again.tasks["mmlu"].score, int)  # ints stay ints
    assert again.tasks["parity"].avg_at_k == 0.5 and again.budget.used["gradient_tokens"] == 199872


def test_keys_never_set_are_not_written():
    failed = {k: RECORD[k] for k in ("schema", "track", "track_version", "submission", "description", "method",
                                     "hyperparameters", "seed", "point")}
    failed |= {"status": "failed", "error": "ValueError: x", "tasks": {}, "domain": None, "general": None,
               "budget": None}
    assert RunRecord.model_validate(failed).to_json_dict() == failed


@pytest.mark.parametrize("change, message", [
    ({"schema": 0}, "has schema 0; this harness reads schema 1"),
    ({"schema": 2}, "has schema 2"),
    ({"schema": None}, 'has no "schema" field'),
    ({"status": "done"}, "status: Input should be 'ok', 'failed' or 'over_budget'"),
    ({"tasks": {"parity": {"score": 1.0}}}, "tasks.parity.role: Field required"),
])
def test_an_old_or_broken_record_is_refused_naming_the_file_and_the_fix(tmp_path, change, message):
    data = {k: v for k, v in {**RECORD, **change}.items() if v is not None or k != "schema"}
    (tmp_path / "metrics.json").write_text(json.dumps(data))
    with pytest.raises(RecordError) as err:
        read_record(tmp_path)
    text = str(err.value)
    assert message in text and str(tmp_path / "metrics.json") in text and "--force" in text


def test_a_file_that_is_not_json_is_refused(tmp_path):
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(RecordError, match="metrics.json: not valid JSON"):
        read_record(tmp_path)


def test_an_old_record_stops_the_leaderboard_with_the_message(tmp_path, capsys):
    from harness.cli import main

    run = tmp_path / "runs" / "t" / "sft" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({k: v for k, v in RECORD.items() if k != "schema"}))
    assert main(["leaderboard", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert "no \"schema\" field" in err and "--force" in err


# docs/runs.md against the models -------------------------------------------------------------------------

def _fields(model) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items() if not info.exclude}


def _metrics_block() -> str:
    text = DOCS.read_text()
    start = text.index("## metrics.json")
    return text[text.index("```json", start) + len("```json"):text.index("```", text.index("```json", start) + 7)]


def test_docs_show_the_current_schema_version():
    assert re.search(r'"schema": (\d+)', _metrics_block()).group(1) == str(SCHEMA_VERSION)


def test_docs_name_every_field_of_every_record_model():
    text = DOCS.read_text()
    for model in record_models():
        missing = sorted(f for f in _fields(model) if f'"{f}"' not in text)
        assert not missing, f"docs/runs.md does not describe {model.__name__} fields {missing}"


def test_every_top_level_and_task_key_in_the_docs_is_a_model_field():
    from harness.record import TaskMetrics

    block = _metrics_block()
    top = set(re.findall(r'^  "([^"]+)":', block, re.M))
    assert top == _fields(RunRecord), (top ^ _fields(RunRecord))
    task_keys = set()
    for line in block[block.index('"tasks": {'):block.index('"domain":')].splitlines():
        task_keys |= set(re.findall(r'"([^"]+)":', line.split("//")[0]))
    task_keys -= {"tasks", "parity"}
    assert task_keys <= _fields(TaskMetrics), task_keys - _fields(TaskMetrics)


def test_harness_run_refuses_to_reuse_an_old_record_and_says_to_force(tmp_path, capsys):
    from harness.cli import main

    repo = Path(__file__).resolve().parents[2]
    run = tmp_path / "micro" / "sft" / "seed0"
    run.mkdir(parents=True)
    old = {k: v for k, v in RECORD.items() if k != "schema"} | {"track": "micro", "submission": "sft"}
    (run / "metrics.json").write_text(json.dumps(old))
    code = main(["run", str(repo / "submissions" / "baselines" / "sft.yaml"), "--track",
                 str(repo / "tests" / "fixtures" / "micro-track.yaml"), "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "no \"schema\" field" in err and "--force" in err and "metrics.json" in err
    assert json.loads((run / "metrics.json").read_text()) == old  # untouched


def test_a_failed_run_gets_a_run_page_through_the_typed_record(tmp_path):
    from harness.render.site import build_site

    failed = {k: RECORD[k] for k in ("schema", "track", "track_version", "submission", "seed", "point")}
    failed |= {"status": "failed", "error": "RuntimeError: <boom>", "tasks": {}, "domain": None, "general": None,
               "budget": None}
    build_site([failed, {**RECORD, "submission": "base"}], tmp_path, {"tiny-parity": "3f2a9c1e0b7d"},
               generated_at="pinned")
    html = (tmp_path / "runs" / "tiny-parity" / "sft" / "seed0.html").read_text()
    assert "RuntimeError: &lt;boom&gt;" in html and "Within budget: no" in html and "No task scores." in html


def test_the_same_run_in_two_folders_is_refused_not_counted_twice(tmp_path):
    from harness.render.load import load_records

    for folder in ("a_b", "a%2Fb"):  # the old folder naming and the current one, for submission "a/b"
        run = tmp_path / "tiny-parity" / folder / "seed0"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({**RECORD, "submission": "a/b"}))
    with pytest.raises(RecordError, match="both hold the run"):
        load_records(tmp_path)


def test_the_flops_cap_is_checked_against_total_flops():
    """The train_flops cap limits training + other forward passes + generation (harness.budget.ledger)."""
    from harness.record import Budget

    within = Budget.model_validate({"caps": {"train_flops": 100.0}, "used": {"train_flops": 60.0, "total_flops": 95.0}})
    over = Budget.model_validate({"caps": {"train_flops": 100.0}, "used": {"train_flops": 60.0, "total_flops": 120.0}})
    assert within.overruns() == []
    assert over.overruns() == [("total_flops", 120.0, 100.0)]
