"""Training logs on the micro track: `--report-to tensorboard` writes TRL's event file with the ledger in it,
`--set` overrides reach config.json, and every run carries lm-eval-shaped results."""

import json
from pathlib import Path

import pytest

from harness.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRACK = str(FIXTURES / "micro-track.yaml")
BASELINES = Path(__file__).resolve().parents[2] / "submissions" / "baselines"

pytestmark = pytest.mark.slow


def test_report_to_tensorboard_logs_the_ledger_beside_trls_metrics(micro_base, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    assert main(["run", str(BASELINES / "sft.yaml"), "--track", TRACK, "--runs-dir", str(runs),
                 "--report-to", "tensorboard", "--set", "learning_rate=0.002"]) == 0
    (run,) = (runs / "micro").iterdir()
    assert run.name.startswith("sft.set-")  # its own entry: NAME.set-HASH of the overrides
    config = json.loads((run / "seed0" / "config.json").read_text())
    assert config["overrides"] == {"learning_rate": 0.002}
    assert config["submission"]["hyperparameters"]["learning_rate"] == 0.002
    assert config["resolved_hyperparameters"]["learning_rate"] == 0.002

    events = list((run / "seed0" / "trainer" / "runs").rglob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/entropy", "train/budget/gradient_tokens", "train/budget/gradient_tokens_share"} <= tags
    tokens = [e.value for e in acc.Scalars("train/budget/gradient_tokens")]
    assert tokens == sorted(tokens) and 0 < tokens[-1] <= 1500  # the micro track's cap
    log = json.loads((run / "seed0" / "train_log.json").read_text())
    assert any("budget/total_flops" in entry and "entropy" in entry for entry in log)  # next to TRL's own


def test_every_run_writes_lm_eval_shaped_results(micro_base, tmp_path):
    from lm_eval.utils import get_latest_filename, get_results_filenames, get_sample_results_filenames

    runs = tmp_path / "runs"
    assert main(["run", str(BASELINES / "base.yaml"), "--track", TRACK, "--runs-dir", str(runs)]) == 0
    run = runs / "micro" / "base" / "seed0"
    metrics = json.loads((run / "metrics.json").read_text())
    files = [str(p) for p in (run / "lm-eval").iterdir()]
    results = json.loads(Path(get_latest_filename(get_results_filenames(files))).read_text())
    assert set(results["results"]) == set(metrics["tasks"]) == {"parity", "copy", "reverse"}
    key = f"{metrics['tasks']['parity']['metric']},none"
    assert results["results"]["parity"][key] == pytest.approx(metrics["tasks"]["parity"]["score"] / 100)
    assert results["n-samples"]["parity"]["effective"] == 24
    assert len(get_sample_results_filenames(files)) == 3
