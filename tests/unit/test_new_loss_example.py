"""The README's "A new loss" example, exactly as written there, registers, validates and trains on the micro track.

The module and the registry line are read out of README.md, so the example cannot drift from what works. With
gamma 0 the focal weight is exactly 1, so the example must train bit for bit like `sft`: a check that the
token-loss trainer reproduces TRL's own SFT loss and step.
"""

import re
import sys
import types
from pathlib import Path
from types import MappingProxyType

import pytest
import torch

from harness.submissions import parse_submissions
from harness.methods import (MethodSpec, TrainContext, config_class, get_method, method_names, register_method,
                             unregister_method)
from harness.models import load_saved_model
from harness.track_data import domain_train_examples, to_dataset

README = Path(__file__).resolve().parents[2] / "README.md"
MODULE = "harness.methods.focal"
STEPS = {"max_steps": 3, "learning_rate": 1e-2, "warmup_steps": 0, "per_device_train_batch_size": 16,
         "gradient_accumulation_steps": 2}


def _example_blocks() -> list[tuple[str, str]]:
    section = README.read_text().split("### A new loss", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


@pytest.fixture
def focal():
    """The README's module installed as harness.methods.focal and its registry line registered; removed after."""
    (lang1, module_code), (lang2, spec_line), (lang3, submission) = _example_blocks()
    assert (lang1, lang2, lang3) == ("python", "python", "yaml")
    assert len(module_code.splitlines()) + len(spec_line.splitlines()) < 30  # issue #15: a new loss in < 30 lines
    module = types.ModuleType(MODULE)
    sys.modules[MODULE] = module
    exec(compile(module_code, f"README.md:{MODULE}", "exec"), module.__dict__)
    spec = eval(spec_line.strip().rstrip(","), {"MethodSpec": MethodSpec})
    register_method(spec)
    try:
        yield spec, submission
    finally:
        unregister_method(spec.name)
        sys.modules.pop(MODULE, None)


def _train(name, hyperparameters, micro_track, micro_base, out):
    model, tok = load_saved_model(micro_base[0])
    ctx = TrainContext(model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
                       output_dir=out, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length)
    trainer = get_method(name).build_trainer(ctx, config_class(name).parse(hyperparameters))
    trainer.args.logging_steps = 1
    trainer.train()
    return trainer


def test_readme_loss_registers_validates_and_trains(focal, micro_track, micro_base, tmp_path):
    import yaml

    spec, submission = focal
    assert spec.name == "focal" and "focal" in method_names()
    [parsed] = parse_submissions(yaml.safe_load(submission), "README.md")
    assert parsed.method == "focal" and parsed.hyperparameters == {"gamma": 2.0}
    base = {k: v.detach().clone() for k, v in load_saved_model(micro_base[0])[0].named_parameters()}
    trainer = _train("focal", {**STEPS, **parsed.hyperparameters}, micro_track, micro_base, tmp_path)
    assert any(not torch.equal(p, base[k]) for k, p in trainer.model.named_parameters())
    logged = [e for e in trainer.state.log_history if "loss" in e]
    assert len(logged) == 3
    # TRL's SFT metrics are kept next to the loss's own value
    assert all({"entropy", "mean_token_accuracy", "num_tokens", "focal_weight"} <= set(e) for e in logged)
    assert all(0 < e["focal_weight"] < 1 for e in logged)


def test_readme_loss_at_gamma_zero_trains_exactly_like_sft(focal, micro_track, micro_base, tmp_path):
    sft = _train("sft", STEPS, micro_track, micro_base, tmp_path / "sft")
    zero = _train("focal", {**STEPS, "gamma": 0.0}, micro_track, micro_base, tmp_path / "focal")
    sft_params = dict(sft.model.named_parameters())
    assert all(torch.equal(p, sft_params[k]) for k, p in zero.model.named_parameters())
    keys = ("loss", "grad_norm", "entropy", "mean_token_accuracy", "num_tokens")
    history = [[{k: e[k] for k in keys} for e in t.state.log_history if "loss" in e] for t in (sft, zero)]
    assert history[0] == history[1] and len(history[0]) == 3
