"""The meter, not the method, decides how much a run trains: it cannot go past the track's cap."""

import json
from types import MappingProxyType

import pytest
import torch

from harness.budget import BudgetMeter, attach_meter, count_parameters
from harness.schemas import BudgetConfig
from harness.methods import TrainContext, config_class, get_method
from harness.models import load_saved_model
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
    model, tok = load_saved_model(micro_base[0])
    ctx = TrainContext(
        model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
        output_dir=tmp_path, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length,
    )
    trainer = get_method(method).build_trainer(ctx, config_class(method).parse(hyperparameters))
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


# ------------------------------------------------------------------ every forward pass, by model role


def _context(micro_track, micro_base, tmp_path):
    model, tok = load_saved_model(micro_base[0])
    return TrainContext(
        model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
        output_dir=tmp_path, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length,
        base_model_dir=micro_base[0],
    )


def _train_as_the_runner_does(micro_track, micro_base, tmp_path, method, hyperparameters, caps):
    """Build and train inside the meter's guard with the policy registered, as runner._train does."""
    ctx = _context(micro_track, micro_base, tmp_path)
    meter = BudgetMeter(caps, count_parameters(ctx.model))
    m = get_method(method)
    with meter.guard(ctx.model):
        m.train(ctx, config_class(m.name).parse(hyperparameters), meter)
    return meter


def test_sft_forwards_nothing_but_its_training_batches(micro_track, micro_base, tmp_path):
    meter = _train_as_the_runner_does(micro_track, micro_base, tmp_path, "sft", {"max_steps": 2}, BudgetConfig())
    used = meter.ledger
    assert used.forward_tokens == {} and used.forward_flops == {}
    assert used.total_flops == used.train_flops == 6 * used.parameters * used.gradient_tokens


@pytest.mark.parametrize("method", ["kl", "iw-sft"])
def test_reference_forward_flops_are_2_p_processed_tokens_of_a_micro_batch(micro_track, micro_base, tmp_path, method):
    meter = _train_as_the_runner_does(micro_track, micro_base, tmp_path, method,
                                      {"max_steps": 1, "per_device_train_batch_size": 8}, BudgetConfig())
    used = meter.ledger
    assert used.micro_batches == 1 and used.processed_tokens > used.gradient_tokens > 0
    assert used.forward_tokens == {"reference": used.processed_tokens}
    assert used.forward_flops == {"reference": 2 * used.parameters * used.processed_tokens}
    assert used.total_flops == used.train_flops + 2 * used.parameters * used.processed_tokens


def test_under_the_same_flops_cap_kl_stops_earlier_than_sft(micro_track, micro_base, tmp_path):
    hp = {"num_train_epochs": 20, "per_device_train_batch_size": 8}
    params = count_parameters(load_saved_model(micro_base[0])[0])
    caps = BudgetConfig(train_flops=6 * params * 600)
    sft = _train_as_the_runner_does(micro_track, micro_base, tmp_path / "sft", "sft", hp, caps)
    kl = _train_as_the_runner_does(micro_track, micro_base, tmp_path / "kl", "kl", hp, caps)
    assert sft.ledger.gradient_tokens == 600 and sft.ledger.total_flops == caps.train_flops
    assert kl.ledger.gradient_tokens < 600
    for meter in (sft, kl):
        assert meter.stopped_by == "train_flops" and meter.report()["within_budget"]
    # kl stops where its total compute reaches the cap: less than one more micro-batch (<= 8 rows of 40 tokens) short
    one_batch = 6 * params * 8 * 40 + 2 * params * 8 * 40
    assert caps.train_flops - one_batch < kl.ledger.total_flops <= caps.train_flops
    assert kl.ledger.forward_flops["reference"] == 2 * params * kl.ledger.processed_tokens


def test_flow_scoring_pass_is_counted(micro_track, micro_base, tmp_path):
    ctx = _context(micro_track, micro_base, tmp_path)
    meter = BudgetMeter(BudgetConfig(), count_parameters(ctx.model))
    m = get_method("flow")
    with meter.guard(ctx.model):
        trainer = m.build_trainer(ctx, config_class(m.name).parse({}))  # FLOW scores the data while its trainer is built
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    assert meter.ledger.forward_tokens == {"scoring": tokens}
    assert meter.ledger.forward_flops == {"scoring": 2 * meter.ledger.parameters * tokens}


def test_a_model_the_meter_does_not_know_cannot_forward_during_training(micro_track, micro_base, tmp_path):
    from harness.budget import UnmeteredForward, register_model

    ctx = _context(micro_track, micro_base, tmp_path)
    other, _ = load_saved_model(micro_base[0])
    enc = ctx.tokenizer(["<|user|>parity 0101010101<|assistant|>"], return_tensors="pt", add_special_tokens=False)
    n = int(enc["attention_mask"].sum())
    meter = BudgetMeter(BudgetConfig(), count_parameters(ctx.model))
    with meter.guard(ctx.model):
        with pytest.raises(UnmeteredForward, match="register_model"):
            other(**enc)
        register_model(other, "teacher")
        with torch.no_grad():
            other(**enc)
            ctx.model(**enc)  # the policy without a gradient: not a training forward, so charged
        ctx.model(**enc)  # the policy's training forward is metered through its batches, not here
        with meter.sampling_allowed():
            ctx.model.generate(**enc, max_new_tokens=3)  # generation is charged as generated tokens, not here
    assert meter.ledger.forward_tokens == {"teacher": n, "policy": n}
    other(**enc)  # after training the guard is gone
    assert meter.ledger.forward_tokens == {"teacher": n, "policy": n}


# ------------------------------------------------------------------ non-finite training stops the run


def test_a_diverging_run_is_recorded_failed_and_listed_invalid(micro_track, micro_base, tmp_path, monkeypatch):
    from harness.schemas import SubmissionConfig
    from harness.runner import RunRequest, execute_run
    from harness.config import track_version
    from harness.scoring import score_runs

    from harness.methods.configs import MethodConfig

    sub = SubmissionConfig(name="sft-huge-lr", method="sft", hyperparameters={"learning_rate": 1e30, "warmup_steps": 0})
    # Validation refuses such a rate (tests/hostile); the runtime guard must still catch a run that diverges, so the
    # hyperparameters are built here without validation.
    from harness.runner import resolve_hyperparameters

    valid = resolve_hyperparameters(sub.model_copy(update={"hyperparameters": {"warmup_steps": 0}}), micro_track)
    resolved = MethodConfig.model_construct(**{**valid.model_dump(), "learning_rate": 1e30})
    monkeypatch.setattr("harness.runner.resolve_hyperparameters", lambda submission, track: resolved)
    (metrics,) = execute_run(RunRequest(sub, micro_track, 0, tmp_path))
    assert metrics["status"] == "failed" and metrics["domain"] is None
    assert metrics["error"].startswith("TrainingDiverged: training diverged: non-finite")
    stored = json.loads((tmp_path / "micro" / "sft-huge-lr" / "seed0" / "metrics.json").read_text())
    assert stored == metrics
    board = score_runs([stored], {"micro": track_version(micro_track)})
    (row,) = board.tracks[0].rows
    assert not row.valid and "non-finite" in row.invalid_reason


def test_a_batch_whose_reference_forward_no_longer_fits_is_not_run():
    meter = BudgetMeter(BudgetConfig(train_flops=6 * 10 * 3 + 2 * 10 * 4), parameters=10)
    meter.batch_forward_rate = 2 * 10  # one reference of 10 parameters forwards every processed token
    collate = meter.wrap_collator(lambda rows: _batch(rows))
    b1 = collate([[-100, 1, 2, 3, 4]])  # 5 processed tokens reserved (100 FLOPs): 2 supervised tokens fit (120)
    assert b1["labels"].tolist() == [[-100, 1, 2, -100, -100]] and "harness_skip_micro_batch" not in b1
    b2 = collate([[-100, 5, 6]])  # nothing left for its reference forward: skipped, no supervision
    assert b2["harness_skip_micro_batch"] and (b2["labels"] == -100).all()
    meter.ledger.charge_forward("reference", 5, parameters=10)  # b1's reference forward ran
    meter.consume_micro_batch()
    meter.consume_micro_batch()
    assert meter.ledger.gradient_tokens == 2 and meter.ledger.micro_batches == 1
    assert meter.cap_reached() == "train_flops" and meter.within_budget()
