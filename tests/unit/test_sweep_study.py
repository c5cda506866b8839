import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_track, track_version
from harness.render.load import load_records
from harness.scoring import score_track
from harness.submissions import load_submissions, load_trials
from harness.errors import ConfigError
from harness.study import load_study

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_list_hyperparameters_expand_into_one_trial_each_of_one_entry(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nmethod: sft\nhyperparameters: {learning_rate: [1.0e-4, 1.0e-3], warmup_steps: [0, 5]}\n")
    trials = load_trials(p)
    assert [t.label for t in trials] == [
        "learning_rate=0.0001,warmup_steps=0", "learning_rate=0.0001,warmup_steps=5",
        "learning_rate=0.001,warmup_steps=0", "learning_rate=0.001,warmup_steps=5",
    ]
    assert {t.name for t in trials} == {"s"}  # one entry
    assert [(t.index, t.count) for t in trials] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert trials[2].submission.hyperparameters == {"learning_rate": 1e-3, "warmup_steps": 0}
    assert trials[2].values == {"learning_rate": 1e-3, "warmup_steps": 0}
    assert load_submissions(p)[2].hyperparameters == {"learning_rate": 1e-3, "warmup_steps": 0}


def test_a_plain_submission_is_a_sweep_of_one(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nmethod: sft\nhyperparameters: {learning_rate: 1.0e-4}\n")
    (trial,) = load_trials(p, load_track("tiny-parity"))
    assert trial.label is None and trial.count == 1 and trial.record_fields("S") is None


@pytest.mark.parametrize("values, message", [("[]", "empty list"), ("[1.0e-4, 1.0e-4]", "listed twice"),
                                             ("[0.001, 1.0e-3]", "listed twice")])
def test_empty_or_repeated_sweep_values_are_refused(tmp_path, values, message):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: s\nmethod: sft\nhyperparameters: {{learning_rate: {values}}}\n")
    with pytest.raises(ConfigError, match=message) as err:
        load_trials(p)
    assert str(p) in str(err.value) and "hyperparameters.learning_rate" in str(err.value)


def test_a_sweep_over_the_track_limit_is_refused_without_building_the_product(tmp_path):
    p = tmp_path / "s.yaml"
    # 10^6 trials: building the product would not finish; the count is checked first.
    lists = ", ".join(f"{k}: [{', '.join(str(v) for v in range(1, 11))}]" for k in (
        "warmup_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs",
        "max_steps", "weight_decay"))
    p.write_text(f"name: s\nmethod: sft\nhyperparameters: {{{lists}}}\n")
    with pytest.raises(ConfigError, match=r"1000000 trials.*'tiny-parity' allows at most 8 \(selection.max_trials\)") as err:
        load_trials(p, load_track("tiny-parity"))
    assert f"{p}" in str(err.value) and "field 'hyperparameters'" in str(err.value)


def test_a_sweep_on_a_track_without_validation_is_refused_naming_the_track(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nmethod: sft\nhyperparameters: {learning_rate: [1.0e-4, 1.0e-3]}\n")
    with pytest.raises(ConfigError, match="track 'smollm2-gsm8k' has no validation set") as err:
        load_trials(p, load_track("smollm2-gsm8k"))
    assert str(p) in str(err.value)
    assert main(["validate", str(p), "--track", "smollm2-gsm8k"]) == 2
    assert main(["validate", str(p), "--track", "tiny-parity"]) == 0


def test_each_swept_value_is_validated(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nmethod: sft\nhyperparameters: {learning_rate: [1.0e-4, -1]}\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_submissions(p)


def test_study_runs_every_submission_and_seed(micro_base, tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: tiny\ntrack: {FIXTURES / 'micro-track.yaml'}\nseeds: [0, 1]\nsubmissions:\n"
        "  - submissions/baselines/base.yaml\n"
        "  - {name: sw, method: sft, hyperparameters: {learning_rate: [1.0e-3, 3.0e-3]}}\n"
        "claims:\n"
        "  - {id: c, paper: '004', statement: s, paper_result: p, protocol: x, claimed: '> -100',\n"
        "     quantity: {metric: domain, entry: sw, minus: base}}\n"
    )
    _, _, subs = load_study(study)
    assert [(s.name, s.label) for s in subs] == [("base", None), ("sw", "learning_rate=0.001"), ("sw", "learning_rate=0.003")]
    runs = tmp_path / "runs"
    assert main(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site")]) == 0
    finished = sorted(p.parent.relative_to(runs).as_posix()
                      for p in [*runs.glob("micro/*/seed*/metrics.json"), *runs.glob("micro/*/trial-*/seed*/metrics.json")])
    assert len(finished) == 6
    # A trial's folder is under its entry's (harness/runs.py), its label escaped like every name.
    record = json.loads((runs / "micro/sw/trial-learning_rate=0.003/seed1/metrics.json").read_text())
    assert record["hyperparameters"]["learning_rate"] == 3e-3 and record["submission"] == "sw"
    assert record["trial"] == {"label": "learning_rate=0.003", "index": 1, "count": 2, "values": {"learning_rate": 0.003},
                               "select_by": "S"}
    assert set(record["validation"]) == {"parity", "copy", "reverse"}
    assert {m["split"] for m in record["validation"].values()} == {"validation"}
    assert (tmp_path / "site" / "index.html").is_file()
    # The study's claims are decided from its runs (the sweep's chosen trial), stored beside the runs and shown on
    # the site's Reproductions page.
    stored = json.loads((runs / "study-tiny.claims.json").read_text())
    assert stored["n_runs"] == 6 and stored["run_seconds"] > 0
    (decided,) = stored["claims"]
    assert decided["verdict"] == "reproduced" and decided["entries"][0]["seeds"] == [0, 1]
    assert "reproduced" in (tmp_path / "site" / "reproductions.html").read_text()
    # The study's site scores against the shipped tracks (micro is a test track, so its runs are listed as
    # invalid there); leaderboard.json still shows the sweep as one entry with its two trials.
    board = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    rows = {r["submission"]: r for r in board["tracks"][0]["rows"]}
    assert set(rows) == {"base", "sw"}  # a sweep is one entry
    assert rows["sw"]["selection"]["n_trials"] == 2
    assert [t["label"] for t in rows["sw"]["selection"]["trials"]] == ["learning_rate=0.001", "learning_rate=0.003"]
    # Scored against the micro track's version: one trial chosen on validation, its test scores ranked.
    micro = load_track(FIXTURES / "micro-track.yaml")
    records = load_records(runs)
    table = score_track("micro", records, {"micro": track_version(micro)}, n_boot=200)
    (row,) = [r for r in table.rows if r.submission == "sw"]
    assert row.valid and row.n_trials == 2 and row.selection.refused is None
    chosen = row.selection.chosen
    assert [t.chosen for t in row.selection.trials].count(True) == 1 and chosen.chosen
    assert row.hyperparameters["learning_rate"] == chosen.values["learning_rate"]
    assert {run.trial for run in row.runs} == {chosen.label}
    best = max(row.selection.trials, key=lambda t: (t.validation, -t.index))
    assert best.label == chosen.label
    # The test items never enter the choice: give every trial the other trial's test results (so the
    # test-best trial flips) and the choice stays; the row's test scores follow the chosen trial.
    by_label = {t.label: [r for r in records if r.trial and r.trial.label == t.label] for t in row.selection.trials}
    a, b = by_label.values()
    swapped = [r.model_copy(update={"tasks": o.tasks}) for x, y in ((a, b), (b, a)) for r, o in zip(x, y)]
    others = [r for r in records if r.trial is None]
    table2 = score_track("micro", others + swapped, {"micro": track_version(micro)}, n_boot=200)
    (row2,) = [r for r in table2.rows if r.submission == "sw"]
    assert row2.selection.chosen.label == chosen.label
    assert [t.validation for t in row2.selection.trials] == [t.validation for t in row.selection.trials]


def test_study_with_a_missing_submission_file_names_it(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text("name: x\ntrack: tiny-parity\nsubmissions: [nope.yaml]\n")
    with pytest.raises(ConfigError, match="submissions.0"):
        load_study(study)


@pytest.mark.parametrize("name", ["forgetting", "parity-rl", "rollout-matching", "ksparse-rl", "ksparse-rl-and",
                                  "parity-epsilon"])
def test_shipped_studies_load(name):
    """The studies the README and the issues point to parse, name real tracks and start from the base entry."""
    study, track, subs = load_study(Path(__file__).resolve().parents[2] / "submissions" / "studies" / f"{name}.yaml")
    assert study.name == name and track.name == study.track
    assert subs[0].submission.method == "base"  # load_study gives trials (harness/sweep.py)
    if name == "forgetting":
        names = {s.name for s in subs}
        for method in ("sft", "talr", "lora", "l2", "kl", "wise-ft", "flow"):
            assert {method, f"{method}-lr5x"} <= names  # every mitigation at 1x and 5x the track's rate
        assert track.name == "tiny-arith" and study.seeds == [0, 1, 2]
