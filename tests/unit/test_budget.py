"""The meter, not the method, decides how much a run trains: it cannot go past the track's cap."""

from types import MappingProxyType

import pytest
import torch

from harness.budget import BudgetMeter, attach_meter, count_parameters
from harness.schemas import BudgetConfig
from harness.methods import METHODS, TrainContext
from harness.pretrain import load_base_model
from harness.track_data import domain_train_examples, to_dataset


def _batch(labels):
    labels = torch.tensor(labels)
    return {"labels": labels, "attention_mask": torch.ones_like(labels), "input_ids": labels.clamp(min=0)}


def test_collator_clips_supervision_at_the_cap():
    meter = BudgetMeter(BudgetConfig(gradient_tokens=5), parameters=10)
    collate = meter.wrap_collator(lambda rows: _batch(rows))
    b1 = collate([[-100, 1, 2, 3], [-100, -100, 4, 5]])  # 3 + 2 = 5 supervised after the shift
    b2 = collate([[-100, 6, 7, 8]])
    assert int((b1["labels"][:, 1:] != -100).sum()) == 5
    assert int((b2["labels"][:, 1:] != -100).sum()) == 0
    meter.consume_micro_batch()
    assert meter.ledger.gradient_tokens == 5
    assert meter.cap_reached() == "gradient_tokens"


def test_partial_batch_keeps_the_first_tokens():
    meter = BudgetMeter(BudgetConfig(gradient_tokens=2), parameters=10)
    b = meter.wrap_collator(lambda rows: _batch(rows))([[-100, 1, 2, 3]])
    assert b["labels"].tolist() == [[-100, 1, 2, -100]]


def test_flops_cap_becomes_a_token_cap():
    meter = BudgetMeter(BudgetConfig(train_flops=6 * 100 * 7), parameters=100)
    assert meter.token_cap == 7
    meter.ledger.gradient_tokens = 7
    assert meter.cap_reached() == "train_flops"
    assert meter.ledger.train_flops == 6 * 100 * 7


def _trainer(micro_track, micro_base, tmp_path, method, hyperparameters, caps):
    model, tok = load_base_model(micro_base[0])
    ctx = TrainContext(
        model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
        output_dir=tmp_path, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length,
    )
    m = METHODS.get(method)
    trainer = m.build_trainer(ctx, m.parse_config(hyperparameters))
    meter = BudgetMeter(caps, count_parameters(model))
    attach_meter(trainer, meter)
    return trainer, meter, model


@pytest.mark.parametrize("method", ["sft", "talr"])
def test_a_method_cannot_train_past_the_gradient_token_cap(micro_track, micro_base, tmp_path, method):
    # The method asks for far more training than the cap allows; count what reaches the model independently.
    trainer, meter, model = _trainer(
        micro_track, micro_base, tmp_path, method,
        {"num_train_epochs": 50, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 2},
        BudgetConfig(gradient_tokens=777),
    )
    seen = []

    def count_labels(module, args, kwargs):
        if module.training and kwargs.get("labels") is not None:
            seen.append(int((kwargs["labels"][:, 1:] != -100).sum()))

    model.register_forward_pre_hook(count_labels, with_kwargs=True)
    trainer.train()
    assert sum(seen) == 777  # exactly the cap reached the loss, not one token more
    assert meter.ledger.gradient_tokens == 777
    assert meter.stopped_by == "gradient_tokens"
    assert meter.report()["within_budget"]


def test_step_cap_stops_training(micro_track, micro_base, tmp_path):
    trainer, meter, _ = _trainer(micro_track, micro_base, tmp_path, "sft", {"num_train_epochs": 20}, BudgetConfig(optimizer_steps=3))
    trainer.train()
    assert meter.ledger.optimizer_steps == 3
    assert trainer.state.global_step == 3
    assert meter.stopped_by == "optimizer_steps"
