"""Selection on validation: a sweep is one entry, its trial is chosen on validation scores alone.

Hand-made run records (as in test_scoring.py) through the pure scorer; the tracks' validation sets
and the limits on sweeps are checked against the shipped track files.
"""

import pytest

from harness.config import load_track
from harness.errors import ConfigError
from harness.scoring import score_runs
from harness.selection import choose_trial, selection_score
from harness.record import as_record
from harness.tasks import load_task
from harness.track_data import check_disjoint, domain_train_examples, domain_train_task, validation_items
from harness.track_data import test_prompts as held_out_test_prompts
from tests.unit.test_scoring import VERSIONS, items, record, task


def trial_record(label: str, index: int, count: int, *, val_domain: float, val_general: float | None = 50.0,
                 test_domain: int = 60, seed: int = 0, lr: float = 1e-3, select_by: str = "S", **kw) -> dict:
    r = record("sw", items(test_domain, seed=seed + 10 * index), items(70, seed=seed + 1), seed=seed, **kw)
    r["hyperparameters"] = {"learning_rate": lr}
    r["trial"] = {"label": label, "index": index, "count": count, "values": {"learning_rate": lr}, "select_by": select_by}
    r["validation"] = {"dom": {**task("domain", [val_domain / 100]), "split": "validation"}}
    if val_general is not None:
        r["validation"]["gen"] = {**task("general", [val_general / 100]), "split": "validation"}
    return r


def sweep(val_a: float, val_b: float, test_a: int = 60, test_b: int = 90, seeds=(0, 1), **kw) -> list[dict]:
    return [trial_record(label, i, 2, val_domain=val, test_domain=test, seed=s, lr=lr, **kw)
            for s in seeds
            for i, (label, lr, val, test) in enumerate([("learning_rate=0.0003", 3e-4, val_a, test_a),
                                                        ("learning_rate=0.001", 1e-3, val_b, test_b)])]


def row_of(records, name="sw"):
    (track,) = score_runs([record("base", items(50), items(80, seed=1)), *records], VERSIONS, n_boot=200).tracks
    return next(r for r in track.rows if r.submission == name), track


def test_a_sweep_is_one_entry_and_only_the_chosen_trials_test_scores_count():
    row, track = row_of(sweep(val_a=80.0, val_b=40.0, test_a=60, test_b=90))
    assert [r.submission for r in track.rows].count("sw") == 1
    assert row.valid and row.n_trials == 2 and row.rank is not None
    assert row.selection.chosen.label == "learning_rate=0.0003"  # best on validation, though worse on test
    assert row.selection.chosen_values == {"learning_rate": 3e-4}
    assert row.hyperparameters == {"learning_rate": 3e-4}
    assert row.domain.value == pytest.approx(60.0)  # the chosen trial's test score, not the better 90
    assert {run.trial for run in row.runs} == {"learning_rate=0.0003"} and row.seeds == (0, 1)
    assert [t.validation for t in row.selection.trials] == [pytest.approx(130.0), pytest.approx(90.0)]


def test_test_items_never_enter_the_choice():
    """Change every trial's test items and results: the choice and the validation scores stay."""
    base = row_of(sweep(val_a=55.0, val_b=70.0, test_a=90, test_b=10))[0]
    changed = sweep(val_a=55.0, val_b=70.0, test_a=10, test_b=90)
    for r in changed:  # other test items altogether: a different number of them, in another order
        r["tasks"]["dom"] = task("domain", items(30, n=50, seed=99 + r["seed"]))
    again = row_of(changed)[0]
    assert base.selection.chosen.label == again.selection.chosen.label == "learning_rate=0.001"
    assert [t.validation for t in base.selection.trials] == [t.validation for t in again.selection.trials]


def test_ties_go_to_the_trial_listed_first_and_the_domain_metric_ignores_general():
    assert row_of(sweep(val_a=70.0, val_b=70.0))[0].selection.chosen.index == 0
    records = sweep(val_a=60.0, val_b=70.0, select_by="domain")
    for r in records:  # general on validation would favour trial 0 under S
        if r["trial"]["index"] == 0:
            r["validation"]["gen"] = {**task("general", [1.0]), "split": "validation"}
    row = row_of(records)[0]
    assert row.selection.metric == "domain" and row.selection.chosen.index == 1


def test_validation_S_is_domain_plus_general_averaged_over_seeds():
    r0, r1 = (as_record(trial_record("a", 0, 1, val_domain=d, val_general=g, seed=s))
              for s, d, g in ((0, 40.0, 60.0), (1, 60.0, 80.0)))
    assert selection_score(r0, "S") == pytest.approx(100.0) and selection_score(r1, "domain") == pytest.approx(60.0)
    runs, sel = choose_trial([r0, r1], lambda r: None)
    assert sel.chosen.validation == pytest.approx(120.0) and sel.chosen.seeds == (0, 1)


@pytest.mark.parametrize("change, reason", [
    (lambda rs: rs[:-1], "only 1 of the sweep's 2 trials have run"),
    (lambda rs: [r for r in rs if not (r["trial"]["index"] == 1 and r["seed"] == 1)], "different seeds"),
    (lambda rs: [{**r, "status": "failed", "tasks": {}} for r in rs], "no trial has valid runs"),
    (lambda rs: [{k: v for k, v in r.items() if k != "validation"} for r in rs], "no validation scores"),
    (lambda rs: [*rs, record("sw", items(50), items(50), seed=0)], "a plain run"),
])
def test_a_choice_that_cannot_be_made_fairly_makes_the_entry_invalid(change, reason):
    records = change(sweep(val_a=80.0, val_b=40.0, seeds=(0, 1) if "seeds" in reason else (0,)))
    row, _ = row_of(records)
    assert not row.valid and row.rank is None and reason in row.invalid_reason


def test_an_invalid_trial_is_not_chosen_but_listed():
    records = sweep(val_a=80.0, val_b=40.0)
    for r in records:
        if r["trial"]["index"] == 0 and r["seed"] == 1:
            r["budget"] = {"caps": {"gradient_tokens": 1000}, "within_budget": False, "used": {"gradient_tokens": 1200}}
    row, _ = row_of(records)
    assert row.valid and row.selection.chosen.index == 1
    assert "over budget" in row.selection.trials[0].invalid_reason


# --- tracks: validation sets and the limits on selection -------------------------------------------------


@pytest.mark.parametrize("name", ["tiny-parity", "tiny-arith", "tiny-arith-flops", "tiny-parity-rare"])
def test_tiny_tracks_have_disjoint_validation_sets_and_unchanged_training_data(name):
    track = load_track(name)
    assert track.has_validation
    check_disjoint(track)  # test, validation and training prompts pairwise disjoint
    spec = track.domain.train
    task = domain_train_task(track)
    before = task.split("train", spec.n, spec.seed, exclude=held_out_test_prompts(track, spec.task))  # the draw before validation
    assert domain_train_examples(track) == before


@pytest.mark.parametrize("name", ["smollm2-gsm8k", "smollm2-arith", "qwen-math-gpu", "qwen-medcalc-gpu",
                                  "qwen-esci-cot-gpu", "qwen-esci-nocot-gpu"])
def test_real_tracks_say_why_they_have_no_validation_set(name):
    track = load_track(name)
    assert not track.has_validation and track.validation.none
    assert track.validation.none in track.no_validation_reason()
    with pytest.raises(ValueError, match=f"track '{name}' has no validation set"):
        validation_items(track, load_task(track.domain.tasks[0]))


def _track_file(tmp_path, extra: str, base: str = "tiny-parity"):
    from harness.discovery import track_path

    text = track_path(base).read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("validation:")) + "\n" + extra + "\n"
    p = tmp_path / "t.yaml"
    p.write_text(text)
    return p


def test_an_unknown_selection_metric_is_rejected_naming_the_file_and_field(tmp_path):
    p = _track_file(tmp_path, "validation: {n: 50}\nselection: {metric: test_accuracy}")
    with pytest.raises(ConfigError, match="selection.metric") as err:
        load_track(p)
    assert str(p) in str(err.value) and "'S'" in str(err.value)


def test_a_selection_setting_on_a_track_without_validation_is_rejected(tmp_path):
    p = _track_file(tmp_path, "validation: {none: no held-out data}\nselection: {max_trials: 4}")
    with pytest.raises(ConfigError, match="field 'selection'.*no validation set: no held-out data") as err:
        load_track(p)
    assert str(p) in str(err.value)


def test_validation_needs_items_or_a_reason(tmp_path):
    with pytest.raises(ConfigError, match="validation"):
        load_track(_track_file(tmp_path, "validation: {n: 10, none: both}"))
    with pytest.raises(ConfigError, match="validation"):
        load_track(_track_file(tmp_path, "validation: {}"))


def test_checkpoint_selection_scores_the_run_as_its_best_validation_checkpoint(micro_base, tmp_path):
    from pathlib import Path

    from harness.render.site import build_site
    from harness.runner import RunRequest, execute_run
    from harness.submissions import load_submission

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "micro-track.yaml"
    text = fixture.read_text().replace("selection: {max_trials: 4}", "selection: {max_trials: 4, checkpoint_every: 2}")
    assert "checkpoint_every" in text
    (tmp_path / "micro.yaml").write_text(text)
    track = load_track(tmp_path / "micro.yaml")
    sub = load_submission(Path(__file__).resolve().parents[2] / "submissions" / "baselines" / "sft.yaml")
    (rec,) = execute_run(RunRequest(sub, track, 0, tmp_path / "runs"))
    ck = rec["checkpoints"]
    steps = [p["step"] for p in ck["curve"]]
    final = rec["budget"]["used"]["optimizer_steps"]
    assert steps == [*range(2, final + 1, 2), *([final] if final % 2 else [])] and len(steps) >= 2
    scores = [p["score"] for p in ck["curve"]]
    assert ck["chosen_step"] == steps[scores.index(max(scores))]  # the best, the earliest of equals
    chosen = ck["curve"][steps.index(ck["chosen_step"])]
    assert ck["restored"] == (ck["chosen_step"] != final)
    assert chosen["score"] == pytest.approx(chosen["domain"] + chosen["general"])
    # The run is scored as the chosen checkpoint: its own validation evaluation reproduces the chosen point.
    val = as_record(rec)
    assert val.validation_mean("domain") == pytest.approx(chosen["domain"])
    assert val.validation_mean("general") == pytest.approx(chosen["general"])
    site = build_site([rec], tmp_path / "site", {"micro": rec["track_version"]}, generated_at="pinned")
    page = next((site.parent / "runs").rglob("seed0.html")).read_text()
    assert 'id="checkpoint-curve"' in page and f"scored as step {ck['chosen_step']}" in page


def test_compare_reads_a_sweep_as_its_chosen_trial():
    from harness.compare import CompareError, compare

    result = compare([record("base", items(50), items(80, seed=1))], sweep(val_a=80.0, val_b=40.0, test_a=60, test_b=90),
                     n_boot=200)
    (dom,) = [r for r in result.rows if r.name == "domain"]
    assert dom.b == pytest.approx(60.0)  # the trial chosen on validation, not the test-best one
    with pytest.raises(CompareError, match="no chosen trial"):
        compare([record("base", items(50))], sweep(val_a=80.0, val_b=40.0)[:-1], n_boot=200)
