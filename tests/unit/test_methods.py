"""The method registry (lazy: listing and validating import no ML library) and one optimizer step of every
registered SFT-data method on a real tiny Llama."""

import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest
import torch

from harness.errors import ConfigErrors
from harness.methods import (MethodSpec, TrainContext, config_class, get_method, method_names, method_spec,
                             unknown_method_message)
from harness.methods.configs import Hyperparameters, MethodConfig
from harness.models import load_saved_model
from harness.track_data import domain_train_examples, to_dataset

# Methods that sample their own data (RL, STaR, DPO) need the harness's sampler: tests/unit/test_rl_methods.py.
TRAINING_METHODS = [name for name in method_names() if method_spec(name).trains and method_spec(name).uses_sft_data]
REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "lm_eval")


def test_registry_lists_the_baseline_methods():
    assert {"base", "sft", "dft", "talr"} <= set(method_names())
    assert len(method_names()) == 18
    for lookup in (method_spec, config_class, get_method):
        with pytest.raises(KeyError, match="Did you mean 'talr'"):
            lookup("tlar")
    message = unknown_method_message("tlar")
    assert message.startswith("unknown method 'tlar'.") and "Known: base, dft, dpo" in message


def _imported_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout.split()
    return [m for m in HEAVY if m in out]


def test_listing_methods_and_their_configs_imports_no_ml_library():
    code = ("from harness.methods import config_class, method_names, method_spec\n"
            "for n in method_names(): config_class(n).parse({}, 'x.yaml'); method_spec(n).summary")
    assert _imported_after(code) == []
    submission = "{'name': 'x', 'method': 'talr', 'hyperparameters': {'floor': [0.1, 0.2]}}"
    assert _imported_after(f"from harness.submissions import parse_submissions\nparse_submissions({submission}, 'x.yaml')") == []
    validate = f"from harness.cli import main\nmain(['validate', {str(REPO / 'submissions/baselines/talr.yaml')!r}])"
    assert _imported_after(validate) == []  # `harness validate` on a YAML file
    assert "torch" in _imported_after("from harness.methods import get_method\nget_method('talr')")


def test_specs_configs_and_implementations_agree():
    for name in method_names():
        spec = method_spec(name)
        assert isinstance(spec, MethodSpec) and spec.name == name and spec.summary
        config = config_class(name)
        assert issubclass(config, Hyperparameters) and (name == "base" or issubclass(config, MethodConfig))
        method = get_method(name)
        assert method is get_method(name)  # imported and built once
        assert (method.name, method.trains, method.uses_sft_data) == (name, spec.trains, spec.uses_sft_data)


def test_bad_hyperparameters_name_the_field_and_the_file():
    with pytest.raises(ConfigErrors) as err:
        config_class("talr").parse({"floor": 2.0, "flor": 0.1}, "subs/talr.yaml")
    text = str(err.value)
    assert "subs/talr.yaml" in text and "hyperparameters.floor" in text and "hyperparameters.flor" in text
    assert "Allowed here:" in text and "floor" in text.split("Allowed here:")[1]
    assert config_class("base").parse({}).model_dump() == {}


@pytest.mark.parametrize("name", TRAINING_METHODS)
def test_one_step_changes_parameters(name, micro_track, micro_base, tmp_path):
    model, tok = load_saved_model(micro_base[0])
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    from harness.budget import BudgetMeter, count_parameters
    from harness.sampler import MeteredSampler
    from harness.schemas import BudgetConfig
    from harness.track_data import domain_train_task

    examples = domain_train_examples(micro_track)
    sampler = MeteredSampler(BudgetMeter(BudgetConfig(), count_parameters(model)), tok, max_new_tokens=12)
    ctx = TrainContext(  # the sampler and task: sft-no-tf samples its own prefixes
        model=model, tokenizer=tok, train_dataset=to_dataset(examples), sampler=sampler,
        task=domain_train_task(micro_track), train_examples=tuple(examples),
        output_dir=tmp_path, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length,
    )
    config = config_class(name).parse({"max_steps": 1, "learning_rate": 1e-2, "warmup_steps": 0})
    trainer = get_method(name).build_trainer(ctx, config)
    trainer.train()
    trained = trainer.model
    if hasattr(trained, "merge_and_unload"):  # PEFT adapters (lora) rename the weights: compare merged ones
        trained = trained.merge_and_unload()
    changed = [k for k, v in trained.named_parameters() if not torch.equal(v, before[k])]
    assert changed, f"{name}: no parameter changed after one step"


def test_dft_and_sft_differ_on_the_same_batch(micro_track, micro_base, tmp_path):
    """DFT scales token losses by p, so its step differs from SFT's on identical data and seed."""
    results = {}
    for name in ("sft", "dft"):
        model, tok = load_saved_model(micro_base[0])
        ctx = TrainContext(
            model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
            output_dir=tmp_path / name, seed=0, track=MappingProxyType({}), max_length=40,
        )
        config = config_class(name).parse({"max_steps": 1, "learning_rate": 1e-2, "warmup_steps": 0})
        trainer = get_method(name).build_trainer(ctx, config)
        trainer.train()
        results[name] = trainer.model.lm_head.weight.detach().clone()
    assert not torch.equal(results["sft"], results["dft"])


def test_a_token_loss_without_a_loss_cannot_be_built():
    from harness.methods.token_loss import TokenLoss

    class NoLoss(TokenLoss):
        pass

    with pytest.raises(TypeError, match="loss"):
        NoLoss()
