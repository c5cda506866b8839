"""RL and self-generated-data methods train the real micro model on CPU, and the meter caps their
generation (rollouts, generated tokens) as well as their training."""

import json
from types import MappingProxyType

import pytest
import torch

from harness.budget import BudgetExceeded, BudgetMeter, UnmeteredGeneration, count_parameters
from harness.schemas import BudgetConfig, DataRecipeConfig, SubmissionConfig
from harness.methods import TrainContext, config_class, get_method, method_names, method_spec
from harness.prepare import prepare_training
from harness.models import load_saved_model
from harness.runner import RunRequest, execute_run

# Tiny settings: 4 prompts x 4 completions of <= 12 tokens per GRPO step.
RL = {"per_device_train_batch_size": 16, "num_generations": 4, "max_completion_length": 12, "learning_rate": 1e-3,
      "rewards": ["outcome", "format"], "logging_steps": 1}
SAMPLING = {"samples_per_prompt": 4, "max_new_tokens": 12, "learning_rate": 1e-3, "per_device_train_batch_size": 16}
CASES = {
    "grpo": {**RL, "max_steps": 2},
    "reinforce": {**RL, "max_steps": 2},
    "rloo": {**RL, "max_steps": 2},
    "star": {**SAMPLING, "rounds": 2, "prompts_per_round": 16, "max_steps": 1},
    "rft": {**SAMPLING, "prompts_per_round": 24, "max_steps": 1},
    "offline-dft": {**SAMPLING, "prompts_per_round": 24, "max_steps": 1},
    "dpo": {**SAMPLING, "samples_per_prompt": 8, "prompts": 24, "max_steps": 1},
}


def _setup(micro_track, micro_base, tmp_path, method_name, caps):
    """The runner's own preparation: metered sampler, rollout log, task and training examples."""
    model, tok = load_saved_model(micro_base[0])
    meter = BudgetMeter(caps, count_parameters(model))
    method = get_method(method_name)
    prep = prepare_training(micro_track, DataRecipeConfig(), method, model, tok, meter, seed=0, runs_dir=tmp_path, curve_every=None)
    ctx = TrainContext(
        model=model, tokenizer=tok, output_dir=tmp_path / "trainer", seed=0, track=MappingProxyType(micro_track.model_dump()),
        max_length=micro_track.training.max_length, base_model_dir=micro_base[0], **prep.context_fields(),
    )
    return method, ctx, meter


def _train(micro_track, micro_base, tmp_path, name, hp, caps=BudgetConfig()):
    method, ctx, meter = _setup(micro_track, micro_base, tmp_path, name, caps)
    before = {k: v.detach().clone() for k, v in ctx.model.named_parameters()}
    with meter.guard():
        model = method.train(ctx, config_class(name).parse(hp), meter)
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    return model, meter, changed


def test_registry_has_the_rl_methods():
    assert set(CASES) <= set(method_names())
    assert not any(method_spec(n).uses_sft_data for n in CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_method_trains_and_its_rollouts_are_metered(name, micro_track, micro_base, tmp_path):
    model, meter, changed = _train(micro_track, micro_base, tmp_path, name, CASES[name])
    used = meter.ledger
    assert changed, f"{name}: no parameter changed"
    assert used.rollouts > 0 and used.generated_tokens >= used.rollouts  # every rollout has >= 1 token (its end)
    assert used.generation_flops == 2 * used.parameters * used.generated_tokens
    assert used.gradient_tokens > 0 and used.optimizer_steps > 0
    assert sum(t.rollouts for t in meter.rollout_log.tallies.values()) == used.rollouts


def test_rollout_cap_stops_grpo_before_the_batch_that_would_pass_it(micro_track, micro_base, tmp_path):
    _, meter, _ = _train(micro_track, micro_base, tmp_path, "grpo", {**RL, "max_steps": 50}, BudgetConfig(rollouts=40))
    assert meter.ledger.rollouts == 32  # two generation batches of 16; a third would pass 40
    assert meter.ledger.optimizer_steps == 2
    assert meter.stopped_by == "rollouts" and meter.report()["within_budget"]


def test_generated_token_cap_counts_each_rollout_at_its_longest(micro_track, micro_base, tmp_path):
    # 16 rollouts x 12 tokens = 192 worst case per batch: a cap of 400 allows two batches, never a third.
    _, meter, _ = _train(micro_track, micro_base, tmp_path, "reinforce", {**RL, "max_steps": 50}, BudgetConfig(generated_tokens=400))
    assert meter.ledger.optimizer_steps == 2 and meter.ledger.generated_tokens <= 400
    assert meter.stopped_by == "generated_tokens"


def test_rollout_cap_stops_star(micro_track, micro_base, tmp_path):
    # 16 prompts x 4 samples = 64 rollouts a round: round 1 fits, round 2 gets the 36 left (9 prompts), then no more.
    hp = {**CASES["star"], "rounds": 5}
    _, meter, _ = _train(micro_track, micro_base, tmp_path, "star", hp, BudgetConfig(rollouts=100))
    assert meter.ledger.rollouts == 100
    assert meter.stopped_by == "rollouts" and meter.report()["within_budget"]
    rounds = [e for e in meter.log_history if "star/round" in e]
    assert [e["star/rollouts"] for e in rounds] == [64, 36]


def test_a_cap_smaller_than_one_generation_batch_refuses_to_start(micro_track, micro_base, tmp_path):
    with pytest.raises(BudgetExceeded, match="rollouts"):
        _train(micro_track, micro_base, tmp_path, "grpo", {**RL, "max_steps": 5}, BudgetConfig(rollouts=10))


def test_grpo_gradient_tokens_are_clipped_at_the_cap(micro_track, micro_base, tmp_path):
    _, meter, _ = _train(micro_track, micro_base, tmp_path, "grpo", {**RL, "max_steps": 50}, BudgetConfig(gradient_tokens=150))
    assert meter.ledger.gradient_tokens == 150 and meter.stopped_by == "gradient_tokens"


def test_sampling_outside_the_meter_is_refused(micro_track, micro_base, tmp_path):
    _, ctx, meter = _setup(micro_track, micro_base, tmp_path, "star", BudgetConfig())
    enc = ctx.tokenizer(["<|user|>parity 0101010101<|assistant|>"], return_tensors="pt", add_special_tokens=False)
    other, _ = load_saved_model(micro_base[0])  # any model, not only the one being trained
    with meter.guard():
        for model in (ctx.model, other):
            with pytest.raises(UnmeteredGeneration):
                model.generate(**enc, max_new_tokens=3)
        assert len(ctx.sampler.sample(ctx.model, ["parity 0101010101"], k=2, max_new_tokens=3)[0]) == 2
    assert meter.ledger.rollouts == 2
    ctx.model.generate(**enc, max_new_tokens=3)  # the guard is gone after training: evaluation generates freely


def test_runner_records_curve_rollouts_and_saved_model(micro_track, micro_base, tmp_path):
    sub = SubmissionConfig(name="grpo-curve", method="grpo", hyperparameters={**RL, "max_steps": 3})
    (metrics,) = execute_run(RunRequest(sub, micro_track, 0, tmp_path, curve_every=2, save_model=True))
    assert [p["step"] for p in metrics["curve"]] == [0, 2, 3]
    assert all({"score", "mean_length"} <= set(p) for p in metrics["curve"])
    run = tmp_path / "micro" / "grpo-curve" / "seed0"
    rollouts = json.loads((run / "rollouts.json").read_text())
    assert rollouts["totals"]["rollouts"] == metrics["budget"]["used"]["rollouts"] == 48
    assert (run / "model" / "config.json").is_file()
    assert metrics["data_recipe"] is None  # RL: no SFT data recipe
