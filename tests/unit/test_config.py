"""Bad configs are rejected before any work, with the file, the field and the fix; exit code 2."""

from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_track
from harness.errors import ConfigError
from harness.submissions import load_submission

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path, text, name="sub.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text,field,phrase",
    [
        ("name: x\nmethod: sft\nlearning_rate: 1e-3\n", "learning_rate", "Allowed here"),
        ("name: x\nmethod: sft\nhyperparameters: {learning_rate: fast}\n", "hyperparameters.learning_rate", "valid number"),
        ("name: x\nmethod: sft\nhyperparameters: {lr: 0.1}\n", "hyperparameters.lr", "learning_rate"),
        ("name: x\nmethod: sftt\n", "method", "Did you mean 'sft'"),
        ("name: x\nmethod: sft\nbudget: {gradient_tokens: 1}\n", "budget", "fixed by the track"),
        ("name: x\nmethod: sft\nhyperparameters: {temperature: 0.7}\n", "hyperparameters.temperature", "fixed by the track"),
        ("method: sft\n", "name", "missing"),
    ],
)
def test_bad_submission_is_rejected_with_file_field_and_fix(tmp_path, capsys, text, field, phrase):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError):
        load_submission(path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert str(path.name) in err and f"field '{field}'" in err and phrase in err
    assert "Traceback" not in err


def test_unknown_track_is_rejected_before_any_work(tmp_path, capsys):
    path = _write(tmp_path, "name: x\nmethod: sft\n")
    runs = tmp_path / "runs"
    assert main(["run", str(path), "--track", "no-such-track", "--runs-dir", str(runs)]) == 2
    assert "unknown track 'no-such-track'" in capsys.readouterr().err.replace("\n", " ")
    assert not runs.exists()


def test_track_with_a_wrong_type_names_the_field(tmp_path):
    text = (REPO / "tests/fixtures/micro-track.yaml").read_text().replace("n_test: 24", "n_test: many")
    with pytest.raises(ConfigError, match="eval.n_test"):
        load_track(_write(tmp_path, text, "t.yaml"))


def test_every_shipped_submission_and_track_validates():
    subs = sorted((REPO / "submissions/baselines").glob("*.yaml"))
    assert {p.stem for p in subs} >= {"base", "sft", "sft-lr-small", "dft", "talr"}
    for p in subs:
        load_submission(p)
    for name in ("tiny-parity", "tiny-arith"):
        assert load_track(name).name == name
