import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.submissions import load_submissions
from harness.errors import ConfigError
from harness.study import load_study

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_list_hyperparameters_expand_into_one_run_each(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nmethod: sft\nhyperparameters: {learning_rate: [1.0e-4, 1.0e-3], warmup_steps: [0, 5]}\n")
    subs = load_submissions(p)
    assert [s.name for s in subs] == [
        "s[learning_rate=0.0001,warmup_steps=0]", "s[learning_rate=0.0001,warmup_steps=5]",
        "s[learning_rate=0.001,warmup_steps=0]", "s[learning_rate=0.001,warmup_steps=5]",
    ]
    assert subs[2].hyperparameters == {"learning_rate": 1e-3, "warmup_steps": 0}


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
    )
    _, _, subs = load_study(study)
    assert [s.name for s in subs] == ["base", "sw[learning_rate=0.001]", "sw[learning_rate=0.003]"]
    runs = tmp_path / "runs"
    assert main(["study", str(study), "--runs-dir", str(runs), "--out", str(tmp_path / "site")]) == 0
    finished = sorted(p.parent.relative_to(runs).as_posix() for p in runs.glob("micro/*/seed*/metrics.json"))
    assert len(finished) == 6
    # Folders are the escaped names (harness/paths.py): "sw[learning_rate=0.003]" -> "sw%5Blearning_rate=0.003%5D".
    assert json.loads((runs / "micro/sw%5Blearning_rate=0.003%5D/seed1/metrics.json").read_text())["hyperparameters"]["learning_rate"] == 3e-3
    assert (tmp_path / "site" / "index.html").is_file()


def test_study_with_a_missing_submission_file_names_it(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text("name: x\ntrack: tiny-parity\nsubmissions: [nope.yaml]\n")
    with pytest.raises(ConfigError, match="submissions.0"):
        load_study(study)


@pytest.mark.parametrize("name", ["forgetting", "parity-rl", "rollout-matching"])
def test_shipped_studies_load(name):
    """The studies the README and the issues point to parse, name real tracks and start from the base entry."""
    study, track, subs = load_study(Path(__file__).resolve().parents[2] / "submissions" / "studies" / f"{name}.yaml")
    assert study.name == name and track.name == study.track
    assert subs[0].method == "base"
    if name == "forgetting":
        names = {s.name for s in subs}
        for method in ("sft", "talr", "lora", "l2", "kl", "wise-ft", "flow"):
            assert {method, f"{method}-lr5x"} <= names  # every mitigation at 1x and 5x the track's rate
        assert track.name == "tiny-arith" and study.seeds == [0, 1, 2]
