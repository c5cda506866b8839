"""General-benchmark suites: config checks, result normalisation and drop_below_base, without running lm-eval."""

from __future__ import annotations

import pytest

from harness.config import load_track, track_version
from harness.discovery import track_path
from harness.errors import ConfigError
from harness.evaluate import TaskEvaluation, summarize
from harness.schemas import GeneralSuiteConfig
from harness.suites import load_suite, read_local_template


def test_shipped_suites_and_local_templates_load():
    seed004 = load_suite("seed004-general")
    assert [t.lm_eval_task for t in seed004.tasks] == ["ifeval", "gsm8k", "humaneval", "hellaswag", "arc_easy",
                                                        "arc_challenge", "piqa", "mmlu"]
    assert [t.name for t in seed004.tasks if t.unsafe_code] == ["humaneval"]
    seed000 = load_suite("seed000-general")
    assert len(seed000.tasks) == 12
    assert {t.name for t in seed000.tasks if t.local} == {"arc_challenge", "bbh", "openbookqa", "piqa"}
    assert all(t.unavailable_reason for t in seed000.tasks if not t.local)
    header, body = read_local_template("bbh")
    assert len(header.subtasks) == 27 and "${SUB}" in body and "${DATA}" in body


def test_track_general_suite_is_validated(tmp_path):
    track = load_track("smollm2-arith")
    assert track.general_suite is not None and track.general_suite.name == "cpu-general"
    base = (tmp_path / "t.yaml")
    text = track_path("smollm2-arith").read_text()
    base.write_text(text.replace("name: cpu-general", "name: no-such-suite"))
    with pytest.raises(ConfigError, match="unknown suite"):
        load_track(base)
    base.write_text(text.replace("general_suite: {name: cpu-general,", "general_suite: {name: cpu-general, tasks: [gpqa],"))
    with pytest.raises(ConfigError, match="not in suite"):
        load_track(base)
    clash = tmp_path / "clash.yaml"
    clash.write_text("name: clash\ntasks:\n  - {name: word-arith, lm_eval_task: arc_easy, metric: acc, local: arc_easy}\n")
    base.write_text(text.replace("name: cpu-general", f"name: {clash}"))
    with pytest.raises(ConfigError, match="share a name"):
        load_track(base)


def test_the_suite_is_part_of_the_track_version():
    track = load_track("smollm2-arith")
    assert track_version(track.model_copy(update={"general_suite": None})) != track_version(track)


def _res(samples, results):
    return {"samples": samples, "results": results, "n-shot": {}, "versions": {}}


def test_task_metrics_normalises_to_points_in_document_order():
    from harness.lmeval import task_metrics
    from harness.suites import SuiteTaskConfig

    entry = SuiteTaskConfig(name="gsm", lm_eval_task="gsm8k", metric="exact_match", filter="flexible-extract")
    samples = [{"doc_id": d, "filter": f, "target": "1", "filtered_resps": ["1"], "exact_match": v}
               for d, v in ((1, 0.0), (0, 1.0), (2, 1.0)) for f in ("strict-match", "flexible-extract")]
    res = _res({"harness_gsm": samples}, {"harness_gsm": {"exact_match,flexible-extract": 2 / 3,
                                                          "exact_match_stderr,flexible-extract": 0.33}})
    metrics, records = task_metrics(entry, "harness_gsm", res)
    assert metrics["score"] == pytest.approx(66.6667) and metrics["item_scores"] == [1.0, 0.0, 1.0]
    assert metrics["n"] == 3 and metrics["stderr"] == pytest.approx(33.0) and metrics["role"] == "general"
    assert [r["doc_id"] for r in records] == [0, 1, 2]

    ifeval = SuiteTaskConfig(name="ifeval", lm_eval_task="ifeval", metric="inst_level_strict_acc")
    samples = [{"doc_id": 0, "filter": "none", "inst_level_strict_acc": [True, False]},
               {"doc_id": 1, "filter": "none", "inst_level_strict_acc": [True]}]
    metrics, _ = task_metrics(ifeval, "harness_ifeval", _res({"harness_ifeval": samples},
                                                             {"harness_ifeval": {"inst_level_strict_acc,none": 2 / 3}}))
    assert metrics["score"] == pytest.approx(66.6667) and metrics["item_scores"] == [0.5, 1.0]


def test_drop_below_base_moves_tasks_out_of_the_general_score():
    from harness.lmeval import SuiteOutcome, apply_drop_below_base

    results = [TaskEvaluation(n, "general", {"role": "general", "score": s}, []) for n, s in (("a", 60.0), ("b", 20.0))]
    record = {"tasks": {"a": {"status": "ok"}, "b": {"status": "ok"}}, "dropped": []}
    outcome = apply_drop_below_base(SuiteOutcome(results, record), 25.0, {"a": 50.0, "b": 24.0})
    assert [r.name for r in outcome.results] == ["a"] and outcome.record["dropped"] == ["b"]
    assert outcome.record["tasks"]["b"]["status"] == "dropped" and "24.0 < 25" in outcome.record["tasks"]["b"]["reason"]


def test_summarize_skips_entries_that_did_not_run():
    ok = TaskEvaluation("a", "general", {"score": 40.0}, [])
    gone = TaskEvaluation("b", "general", {"status": "unavailable", "reason": "no data", "score": 0.0}, [])
    assert summarize([ok, gone])["general"] == 40.0


def test_general_suite_defaults():
    gs = GeneralSuiteConfig(name="cpu-general")
    assert gs.apply_chat_template and not gs.allow_code_execution and gs.drop_below_base is None


def test_the_track_page_says_when_drop_below_base_is_on():
    from harness.record import RunRecord
    from harness.scoring import general_suite_notes

    def ok(**fields):  # a finished run record; only its general_suite matters here
        return RunRecord(track="t", submission="s", seed=0, status="ok", **fields)

    suite = {"name": "cpu-general", "limit": 100, "apply_chat_template": True, "unavailable": ["hellaswag"],
             "dropped": ["mmlu"], "drop_below_base": 25.0}
    notes = general_suite_notes([ok(general_suite=suite), ok()])
    assert any("drop_below_base is on" in n and "below 25" in n and "mmlu" in n for n in notes)
    assert any("hellaswag" in n for n in notes)
    assert general_suite_notes([ok()]) == []
    assert not any("drop_below_base" in n for n in general_suite_notes(
        [ok(general_suite={**suite, "drop_below_base": None})]))
