"""Papers 000 and 003 on tiny tracks: the transfer track, model sources saved and read by a study, avg@k sampling."""

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_track
from harness.errors import ConfigError
from harness.evaluate import evaluate_task
from harness.models import load_saved_model
from harness.schemas import EvalConfig
from harness.study import load_study, model_sources
from harness.submissions import parse_submissions
from harness import track_data

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


def test_transfer_track_loads_and_its_general_side_is_other_reasoning_tasks():
    track = load_track("tiny-transfer")
    assert [t.task for t in track.domain.tasks] == ["modsum"]
    assert [t.task for t in track.general] == ["parity", "ksparse-parity"]  # transfer targets, not copy/sort
    assert not {"copy", "reverse", "sort"} & {t.task for t in track.general}
    mixture = track.base_model.pretrain.mixture
    assert {"modsum", "parity", "ksparse-parity"} <= set(mixture)  # the shared skill is pretrained in all three
    assert (track.eval.k, track.eval.temperature) == (4, 1.0)  # paper 003 reports avg@k at temperature 1
    for name in ("sft", "dft", "iw-sft", "grpo"):
        (sub,) = parse_submissions(json.loads(json.dumps({"name": name, "method": name})), f"{name}.yaml")
        assert sub.method == name


@pytest.mark.parametrize("name, entries", [
    ("transfer-sources", {"base", "tr-grpo", "tr-strong", "src-rl", "src-strong", "src-mix2", "src-mix4",
                          "rl-solvable", "rl-correct", "rl-total"}),
    ("dft", {"base", "sft", "dft", "iw-sft", "rft", "offline-dft", "dpo", "tr-grpo"}),
])
def test_paper_studies_load(name, entries):
    study, track, subs = load_study(REPO / "submissions" / "studies" / f"{name}.yaml")
    assert track.name == "tiny-transfer" and study.seeds == [0, 1, 2]
    assert {s.name for s in subs} == entries
    if name == "transfer-sources":
        assert model_sources(subs) == {"tr-grpo", "tr-strong"}
        by_name = {s.name: s.submission for s in subs}
        assert [s.share for s in by_name["src-mix2"].data.sources()] == [0.7, 0.3]  # Mix-2: 70% RL-tuned
        assert by_name["rl-total"].data.match.by == "total_rollouts"


def test_a_model_source_listed_after_its_reader_is_refused(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: s\ntrack: {FIXTURES / 'micro-track.yaml'}\nsubmissions:\n"
        "  - {name: reader, method: sft, data: {recipe: model, submission: teacher}}\n"
        "  - {name: teacher, method: sft}\n"
    )
    with pytest.raises(ConfigError, match="'reader' samples its data from entry 'teacher'.*listed before it"):
        load_study(study)


@pytest.mark.slow
def test_a_study_saves_the_rl_tuned_source_and_sft_reads_it(micro_base, tmp_path):
    """The RL-tuned source: a GRPO entry's model is saved by the study, a later entry rejection-samples its SFT
    data from that saved run (matched to the same run's prompts) on the tiny model."""
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: src\ntrack: {FIXTURES / 'micro-track.yaml'}\nseeds: [0]\nsubmissions:\n"
        "  - name: rl\n    method: grpo\n"
        "    hyperparameters: {num_generations: 4, per_device_train_batch_size: 16, max_steps: 2}\n"
        "  - name: plain\n    method: sft\n    hyperparameters: {max_steps: 1}\n"
        "  - name: from-rl\n    method: sft\n    hyperparameters: {max_steps: 2}\n"
        "    data: {recipe: model, submission: rl, match: {submission: rl, by: prompts}, samples_per_prompt: 4,"
        " max_samples_per_prompt: 8}\n"
    )
    runs = tmp_path / "runs"
    assert main(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site")]) == 0
    rl, plain, reader = (runs / "micro" / n / "seed0" for n in ("rl", "plain", "from-rl"))
    assert (rl / "model" / "config.json").is_file()  # saved because another entry samples from it
    assert not (plain / "model").exists()  # nobody reads plain's model: not saved
    load_saved_model(rl / "model")  # a loadable, code-free model folder
    summary = json.loads((reader / "metrics.json").read_text())["data_recipe"]
    (src,) = summary["sources"]
    assert src["source"] == "model" and src["model"] == str(rl / "model")
    rl_prompts = json.loads((rl / "rollouts.json").read_text())["prompts"]
    assert summary["match"]["by"] == "prompts" and summary["match"]["prompts"] == len(rl_prompts) == src["prompts"]
    assert src["rollouts"] >= 4 * len(rl_prompts)  # sampled from the saved model through the meter
    assert summary["examples"] == src["correct"] <= len(rl_prompts)


@pytest.mark.slow
def test_avg_at_k_at_temperature_one_is_the_mean_over_k_distinct_samples(micro_track, micro_base):
    model, tok = load_saved_model(micro_base[0])
    (task, _), *_ = track_data.eval_tasks(micro_track)  # parity of 10 bits
    items = track_data.test_items(micro_track, task)
    cfg = EvalConfig(n_test=24, k=8, temperature=1.0, max_new_tokens=12, batch_size=64, seed=3)
    result = evaluate_task(model, tok, task, items, "domain", cfg)
    per_item: dict[int, list[dict]] = {}
    for s in result.samples:
        per_item.setdefault(s["item"], []).append(s)
    assert all(len(v) == 8 for v in per_item.values()) and len(per_item) == 24
    # Sampled, not greedy: greedy decoding would give the same completion k times for every item.
    assert sum(len({s["completion"] for s in v}) > 1 for v in per_item.values()) >= 12
    mean = sum(s["correct"] for s in result.samples) / len(result.samples)
    assert result.metrics["metric"] == "avg@8" and result.metrics["avg@k"] == pytest.approx(mean)
    assert result.metrics["score"] == pytest.approx(100 * mean, abs=1e-3)
    # Fractional per-item scores: with one greedy sample per item they would all be 0 or 1.
    assert any(0 < x < 1 for x in result.metrics["item_scores"])
    greedy = evaluate_task(model, tok, task, items, "domain", cfg.model_copy(update={"temperature": 0.0, "k": 1}))
    assert all(x in (0.0, 1.0) for x in greedy.metrics["item_scores"])  # one greedy sample per item: 0 or 1
