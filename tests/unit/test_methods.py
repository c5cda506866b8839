"""One optimizer step of every registered training method changes the weights of a real tiny Llama."""

from types import MappingProxyType

import pytest
import torch

from harness.methods import METHODS, TrainContext
from harness.models import load_saved_model
from harness.track_data import domain_train_examples, to_dataset

# Methods that sample their own data (RL, STaR, DPO) need the harness's sampler: tests/unit/test_rl_methods.py.
TRAINING_METHODS = [name for name in METHODS if METHODS.get(name).trains and METHODS.get(name).uses_sft_data]


def test_registry_lists_the_baseline_methods():
    assert {"base", "sft", "dft", "talr"} <= set(METHODS)
    with pytest.raises(KeyError, match="Did you mean 'talr'"):
        METHODS.get("tlar")


@pytest.mark.parametrize("name", TRAINING_METHODS)
def test_one_step_changes_parameters(name, micro_track, micro_base, tmp_path):
    model, tok = load_saved_model(micro_base[0])
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    ctx = TrainContext(
        model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
        output_dir=tmp_path, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length,
    )
    method = METHODS.get(name)
    trainer = method.build_trainer(ctx, method.parse_config({"max_steps": 1, "learning_rate": 1e-2, "warmup_steps": 0}))
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
        method = METHODS.get(name)
        trainer = method.build_trainer(ctx, method.parse_config({"max_steps": 1, "learning_rate": 1e-2, "warmup_steps": 0}))
        trainer.train()
        results[name] = trainer.model.lm_head.weight.detach().clone()
    assert not torch.equal(results["sft"], results["dft"])
