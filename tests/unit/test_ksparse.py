"""Paper 001 on the harness: k-sparse tracks, per-step scores, token-level advantages from step rewards, SFT without
teacher forcing. The training tests run the real micro k-sparse model (3-sparse parity over 8 bits) on CPU."""

from __future__ import annotations

import random
from types import MappingProxyType

import pytest
import torch

from harness.budget import BudgetMeter, count_parameters
from harness.config import load_track
from harness.methods import TrainContext, config_class, get_method
from harness.methods.base import meter_trainer
from harness.methods.step_advantages import spread_to_tokens, step_advantages, token_offsets, token_positions
from harness.models import load_saved_model
from harness.prepare import prepare_training
from harness.schemas import BudgetConfig, DataRecipeConfig
from harness.tasks.chains import step_accuracy
from harness.tasks.synthetic import ksparse
from harness import track_data

from tests.conftest import FIXTURES


def _share_of_ones(examples) -> float:
    return sum(ex.answer == "1" for ex in examples) / len(examples)


@pytest.mark.parametrize("phi", ["and", "or"])
def test_balanced_and_or_answers_are_50_50(phi):
    rng = random.Random(0)
    plain = [ksparse(rng, d=12, k=6, phi=phi) for _ in range(4000)]
    assert abs(_share_of_ones(plain) - 0.5) > 0.45  # uniform inputs: the same answer ~98% of the time
    rng = random.Random(0)
    balanced = [ksparse(rng, d=20, k=6, phi=phi, balance=True) for _ in range(4000)]
    assert abs(_share_of_ones(balanced) - 0.5) < 0.03
    # the irrelevant bits stay uniform
    relevant = set(sorted(random.Random(0).sample(range(20), 6)))
    other = [int(ex.prompt.split()[1][i]) for ex in balanced for i in range(20) if i not in relevant]
    assert abs(sum(other) / len(other) - 0.5) < 0.02


@pytest.mark.parametrize("phi", ["parity", "and", "or"])
def test_shipped_ksparse_tracks_are_balanced_and_disjoint(phi):
    track = load_track(f"tiny-ksparse-{phi}")
    track_data.check_disjoint(track)
    train = track_data.domain_train_examples(track)
    assert abs(_share_of_ones(train) - 0.5) < 0.04
    task = track_data.eval_tasks(track)[0][0]
    assert abs(_share_of_ones(track_data.test_items(track, task)) - 0.5) < 0.08  # 200 items: +-2 standard errors
    assert all(len(ex.chain) == 5 and ex.completion == "".join(ex.chain) + "=" + ex.answer for ex in train[:50])


def test_chain_accuracy_local_and_gold_by_hand():
    ex = ksparse(random.Random(3), d=8, k=4, phi="parity")
    xs = [int(b) for b in ex.meta["relevant_bits"]]
    first_wrong = str(1 - int(ex.chain[0]))
    # the model's step 1 is wrong; its steps 2 and 3 follow its own step 1: locally right, gold wrong
    own = [first_wrong]
    for x in xs[2:]:
        own.append(str(int(own[-1]) ^ x))
    acc = step_accuracy([ex, ex], [ex.completion, "".join(own) + "=" + own[-1]])
    assert acc["local"] == [50.0, 100.0, 100.0, 100.0]
    assert acc["gold"] == [50.0, 50.0, 50.0, 50.0]


def test_step_advantages_by_hand():
    # one prompt, two completions, three positions (two steps and the answer)
    rewards = torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, -1.0]])
    adv = step_advantages(rewards, group=2, credit="step")
    assert adv.tolist() == [[1.0, 0.0, 1.0], [-1.0, 0.0, -1.0]]
    ret = step_advantages(rewards, group=2, credit="return")  # returns 1, 0, 1 and -3, -2, -1
    assert ret.tolist() == [[2.0, 1.0, 1.0], [-2.0, -1.0, -1.0]]
    # "ab=c<eos>": the "=" and the end token stand for no position
    members = token_positions([(0, 1), (1, 2), (2, 3), (3, 4), (4, 4)], [(0, 1), (1, 2), (3, 4)])
    assert members == [[0], [1], [], [2], []]
    membership = torch.zeros(2, 5, 3)
    for j, ps in enumerate(members):
        membership[:, j, ps] = 1.0
    tokens = spread_to_tokens(adv, membership)
    assert tokens.tolist() == [[1.0, 0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, -1.0, 0.0]]


def test_missing_positions_land_on_the_tokens_written_in_their_place():
    # "abcc..." run on past a 2-step chain with no "=": the answer's penalty lands on every surplus token, so the
    # policy is pushed toward stopping and answering (before, it landed on no token and runs collapsed into "000...")
    assert token_positions([(0, 1), (1, 2), (2, 3), (3, 4)], [(0, 1), (1, 2), (2, 4)]) == [[0], [1], [2], [2]]
    # "a<eos>": step 2 and the answer both missing, the completion ended: both on the end token
    assert token_positions([(0, 1), (1, 1)], [(0, 1), (1, 1), (1, 1)]) == [[0], [1, 2]]
    # cut at the length limit with no end token: the last token carries them
    assert token_positions([(0, 1)], [(0, 1), (1, 1)]) == [[0, 1]]
    adv = torch.tensor([[0.5, -1.0, -2.0]])
    membership = torch.zeros(1, 2, 3)
    membership[0, 0, 0] = membership[0, 1, 1] = membership[0, 1, 2] = 1.0
    assert spread_to_tokens(adv, membership).tolist() == [[0.5, -3.0]]  # one token standing for two positions sums


@pytest.fixture(scope="module")
def micro_ksparse(cache_dir):
    from harness.pretrain import ensure_base_model

    track = load_track(FIXTURES / "micro-ksparse.yaml")
    return track, ensure_base_model(track)


def _setup(micro_ksparse, tmp_path, name):
    track, base = micro_ksparse
    model, tok = load_saved_model(base)
    meter = BudgetMeter(BudgetConfig(), count_parameters(model))
    method = get_method(name)
    prep = prepare_training(track, DataRecipeConfig(), method, model, tok, meter, seed=0, runs_dir=tmp_path,
                            curve_every=None)
    ctx = TrainContext(model=model, tokenizer=tok, output_dir=tmp_path / "trainer", seed=0,
                       track=MappingProxyType(track.model_dump()), max_length=track.training.max_length,
                       base_model_dir=base, **prep.context_fields())
    return method, ctx, meter


@pytest.mark.parametrize("name", ["reinforce", "grpo"])
def test_step_reward_gives_token_level_advantages(name, micro_ksparse, tmp_path):
    method, ctx, meter = _setup(micro_ksparse, tmp_path, name)
    hp = {"per_device_train_batch_size": 16, "num_generations": 4, "max_completion_length": 8, "max_steps": 2,
          "rewards": ["step"], "logging_steps": 1}
    trainer = method.build_trainer(ctx, config_class(name).parse(hp))
    outputs = []
    generate_and_score = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: outputs.append(generate_and_score(inputs)) or outputs[-1]
    meter_trainer(trainer, meter)
    with meter.guard():
        trainer.train()
    adv = outputs[0]["advantages"]
    assert adv.shape == outputs[0]["completion_ids"].shape  # one advantage per completion token
    assert any(len(set(row.tolist())) > 1 for row in adv)  # tokens of one completion are credited differently
    ids = outputs[0]["completion_ids"][0].tolist()
    assert token_offsets(ctx.tokenizer, ids)[0] == (0, 1)  # one character per token on the tiny tracks
    assert meter.ledger.rollouts == 2 * 16  # generation metered as for any GRPO run
    assert meter.ledger.gradient_tokens > 0
    assert any("rewards/step/position_1" in k for log in meter.log_history for k in log)


def test_rloo_refuses_the_step_reward():
    with pytest.raises(Exception, match="sequence rewards only"):
        config_class("rloo").parse({"rewards": ["step"]})


def test_sft_without_teacher_forcing_trains_on_the_models_own_prefix(micro_ksparse, tmp_path):
    method, ctx, meter = _setup(micro_ksparse, tmp_path, "sft-no-tf")
    trainer = method.build_trainer(ctx, config_class("sft-no-tf").parse({"max_steps": 1, "per_device_train_batch_size": 16}))
    meter_trainer(trainer, meter)
    with meter.guard():
        trainer.train()
    batch = trainer.own_prefix.last_batch
    tok = ctx.tokenizer
    differ = 0
    for ids, labels, gold in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), batch["gold_labels"]):
        start = next(i for i, v in enumerate(labels) if v != -100)
        trained = [v for v in labels[start:] if v != -100]
        assert trained == gold[: len(trained)]  # labels: the gold completion, computed from the input
        context = ids[start: start + len(trained) - 1]  # the tokens the labels after the first are predicted from
        differ += context != gold[: len(context)]
    assert differ > 0  # the context is the model's own generation, not the gold chain
    assert any(c and c[0] in "01" for c in batch["completions"])  # the base writes a chain (for another subset)
    # its generation is metered: 16 rollouts per batch (the data loader may collate one batch ahead; charged too)
    assert meter.ledger.rollouts in (16, 32) and meter.ledger.generated_tokens > 0
    assert meter.ledger.gradient_tokens == trainer.own_prefix.supervised[0]  # the meter counts the rebuilt labels
    assert tok.decode(batch["labels"][0][batch["labels"][0] != -100][:1]) in "01"



def test_runner_stores_per_step_curves_and_the_run_page_draws_them(micro_ksparse, tmp_path):
    from harness.config import track_version
    from harness.render.plot import chain_curves_svg
    from harness.render.site import build_site_from_runs
    from harness.runner import RunRequest, execute_run
    from harness.schemas import SubmissionConfig

    track, _ = micro_ksparse
    sub = SubmissionConfig(name="rl-step", method="reinforce", hyperparameters={
        "per_device_train_batch_size": 16, "num_generations": 4, "max_completion_length": 8, "max_steps": 2,
        "rewards": ["step", "outcome"], "logging_steps": 1})
    (metrics,) = execute_run(RunRequest(sub, track, 0, tmp_path / "runs", curve_every=1))
    assert [p["step"] for p in metrics["curve"]] == [0, 1, 2]
    for point in metrics["curve"]:
        assert len(point["chain"]["local"]) == len(point["chain"]["gold"]) == 3  # 2 chain steps and the answer
    assert metrics["curve"][-1]["chain"] == metrics["tasks"]["ksparse-parity"]["chain_accuracy"]
    assert "chain_accuracy" not in metrics["tasks"]["copy"]
    assert isinstance(metrics["curve_summary"]["chain_lead"], float)
    assert chain_curves_svg([{"step": 0, "score": 0, "mean_length": 1}]) is None
    site = build_site_from_runs(tmp_path / "runs", tmp_path / "site", {track.name: track_version(track)}).parent
    pages = [p.read_text() for p in site.rglob("*.html") if "rl-step" in p.read_text() and "chain-curve" in p.read_text()]
    assert pages and "Per-step learning curves" in pages[0] and "<svg" in pages[0]
