"""Forgetting mitigations (lora, l2, kl, wise-ft, flow) and iw-sft move a real tiny Llama the way each method says.

One SFT run (6 steps, constant learning rate) is shared as the reference: L2 and KL with huge
coefficients must stay closer to the base than it, L2 with coefficient 0 must equal it, iw-SFT's
first step must equal its first step, and WiSE-FT interpolates between the base and it.
"""

import json
from pathlib import Path
from types import MappingProxyType

import pytest
import torch
from transformers import TrainerCallback

from harness.budget import BudgetMeter, count_parameters
from harness.config import load_track, track_version
from harness.schemas import BudgetConfig
from harness.methods import TrainContext, config_class, get_method, method_names
from harness.methods.flow import flow_weights, sequence_losses
from harness.methods.iw_sft import iw_sft_weights
from harness.methods.kl import k3_kl
from harness.models import load_saved_model
from harness.track_data import domain_train_examples, to_dataset

MITIGATIONS = {"lora", "l2", "kl", "wise-ft", "flow", "iw-sft"}
STEPS = {"max_steps": 6, "learning_rate": 1e-2, "warmup_steps": 0, "lr_scheduler_type": "constant"}
TRACK = Path(__file__).resolve().parents[1] / "fixtures" / "micro-track.yaml"


def _context(micro_track, micro_base, out: Path) -> TrainContext:
    model, tok = load_saved_model(micro_base[0])
    return TrainContext(
        model=model, tokenizer=tok, train_dataset=to_dataset(domain_train_examples(micro_track)),
        output_dir=out, seed=0, track=MappingProxyType({}), max_length=micro_track.training.max_length,
        base_model_dir=micro_base[0],
    )


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _distance(a: dict, b: dict) -> float:
    return float(sum(((a[k] - b[k]) ** 2).sum() for k in b) ** 0.5)


def _train(name, hyperparameters, micro_track, micro_base, out, callbacks=()):
    ctx = _context(micro_track, micro_base, out)
    trainer = get_method(name).build_trainer(ctx, config_class(name).parse(hyperparameters))
    for cb in callbacks:
        trainer.add_callback(cb)
    trainer.train()
    return trainer


@torch.no_grad()
def _label_log_probs(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """log p of each next-token label from the full logits (independent of TRL's fused head), and the label mask."""
    model.eval()
    labels = batch["labels"][:, 1:]
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    lp = torch.log_softmax(logits.float(), -1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    mask = labels != -100
    return lp * mask, mask


class _SnapshotAfterFirstStep(TrainerCallback):
    def __init__(self):
        self.params = None

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == 1:
            self.params = _params(model)


@pytest.fixture(scope="module")
def sft_run(micro_track, micro_base, tmp_path_factory):
    """The shared SFT reference: base weights, weights after step 1 and after 6 steps, the model, a fixed batch."""
    base, _ = load_saved_model(micro_base[0])
    first = _SnapshotAfterFirstStep()
    trainer = _train("sft", STEPS, micro_track, micro_base, tmp_path_factory.mktemp("sft"), [first])
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(48)])
    return {"base": _params(base), "step1": first.params, "final": _params(trainer.model), "model": trainer.model,
            "batch": batch}


def test_every_mitigation_is_registered_with_its_own_hyperparameters():
    assert MITIGATIONS <= set(method_names())
    for name in MITIGATIONS:
        own = set(config_class(name).model_fields) - set(config_class("sft").model_fields)
        assert own, f"{name} has no hyperparameters of its own"


def test_l2_huge_coefficient_keeps_the_base_and_zero_is_sft(sft_run, micro_track, micro_base, tmp_path):
    zero = _train("l2", {**STEPS, "coef": 0.0}, micro_track, micro_base, tmp_path / "zero")
    assert all(torch.equal(p, sft_run["final"][k]) for k, p in zero.model.named_parameters())
    huge = _train("l2", {**STEPS, "coef": 1e6}, micro_track, micro_base, tmp_path / "huge")
    sft_drift = _distance(sft_run["final"], sft_run["base"])
    assert _distance(_params(huge.model), sft_run["base"]) < 0.25 * sft_drift


def test_k3_estimator_on_hand_made_log_probs():
    lp = torch.tensor([[-1.0, -2.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    assert k3_kl(lp, lp, mask).item() == 0.0
    d = torch.log(torch.tensor(2.0))  # p_base = 2 p_theta on the first token, equal on the second
    expected = (torch.exp(d) - d - 1) / 2
    assert k3_kl(lp, lp + torch.tensor([[d, 0.0, 5.0]]), mask).item() == pytest.approx(expected.item())


def test_kl_huge_coefficient_stays_closer_to_the_base_than_sft(sft_run, micro_track, micro_base, tmp_path):
    base, _ = load_saved_model(micro_base[0])
    kl = _train("kl", {**STEPS, "coef": 10.0}, micro_track, micro_base, tmp_path)
    ref, mask = _label_log_probs(base, sft_run["batch"])
    kl_of = {name: k3_kl(_label_log_probs(model, sft_run["batch"])[0], ref, mask).item()
             for name, model in (("sft", sft_run["model"]), ("kl", kl.model))}
    assert kl_of["kl"] < 0.5 * kl_of["sft"], kl_of


def test_iw_sft_weights_on_hand_made_log_probs():
    lp = torch.tensor([[-1.0, -1.0], [-1.0, -1.0], [0.0, 0.0]])
    ref = torch.tensor([[-2.0, -2.0], [-9.0, -1.0], [0.0, 0.0]])
    mask = torch.tensor([[True, True], [True, True], [False, False]])
    w = iw_sft_weights(lp, ref, mask, max_weight=16.0)
    assert w[0].item() == pytest.approx(torch.e)  # mean log-ratio 1
    assert w[1].item() == 16.0  # mean log-ratio 4: exp(4) ~ 55, clipped
    assert w[2].item() == 1.0  # no supervised token
    assert iw_sft_weights(lp, ref, mask, temperature=0.5)[0].item() == pytest.approx(torch.e ** 0.5)


def test_iw_sft_first_step_is_the_sft_step(sft_run, micro_track, micro_base, tmp_path):
    """At the base every importance weight is exactly 1, so the first update is SFT's."""
    iw = _train("iw-sft", {**STEPS, "max_steps": 1}, micro_track, micro_base, tmp_path)
    assert all(torch.equal(p, sft_run["step1"][k]) for k, p in iw.model.named_parameters())


def test_wise_ft_points_interpolate_exactly(sft_run, micro_track, micro_base, tmp_path):
    method = get_method("wise-ft")
    config = config_class("wise-ft").parse({"alphas": [0.0, 0.5, 1.0]})
    ctx = _context(micro_track, micro_base, tmp_path)
    points = dict(method.points(sft_run["model"], ctx, config))
    assert list(points) == ["alpha=0", "alpha=0.5", "alpha=1"]
    base, tok = load_saved_model(micro_base[0])
    batch = sft_run["batch"]
    logits = {name: m.eval()(input_ids=batch["input_ids"]).logits
              for name, m in (("base", base), ("ft", sft_run["model"]), *points.items())}
    assert torch.equal(logits["alpha=0"], logits["base"]) and not torch.equal(logits["base"], logits["ft"])
    assert torch.equal(logits["alpha=1"], logits["ft"])
    assert all(torch.equal(p, sft_run["final"][k]) for k, p in points["alpha=1"].named_parameters())
    mid = dict(points["alpha=0.5"].named_parameters())
    assert all(torch.allclose(mid[k], (sft_run["base"][k] + sft_run["final"][k]) / 2, atol=1e-6) for k in mid)
    prompts = tok(["0110101001", "1111100000"], return_tensors="pt")
    greedy = {n: m.generate(**prompts, max_new_tokens=8, do_sample=False) for n, m in
              (("base", base), ("alpha=0", points["alpha=0"]))}
    assert torch.equal(greedy["base"], greedy["alpha=0"])
    assert config_class("wise-ft").parse({"alphas": 0.25}).alphas == [0.25]  # a single number is one point


def test_lora_trains_only_adapters_and_merges_into_a_plain_model(micro_track, micro_base, tmp_path):
    ctx = _context(micro_track, micro_base, tmp_path)
    base = _params(ctx.model)
    rank = 4
    adapters = sum(rank * (m.in_features + m.out_features) for name, m in ctx.model.named_modules()
                   if isinstance(m, torch.nn.Linear) and name != "lm_head")
    method = get_method("lora")
    meter = BudgetMeter(BudgetConfig(), count_parameters(ctx.model))
    merged = method.train(ctx, config_class("lora").parse({**STEPS, "max_steps": 2, "rank": rank}), meter)
    assert meter.ledger.trainable_parameters == adapters < meter.ledger.parameters
    after = _params(merged)
    assert set(after) == set(base)  # merged: the base's parameter names, no adapter left
    changed = {k for k in base if not torch.equal(after[k], base[k])}
    assert changed and all(k.endswith("proj.weight") for k in changed), changed  # embeddings and norms untouched


def test_flow_weights_follow_the_rule_on_hand_made_losses():
    losses = torch.tensor([1.0, 2.0, 3.0, 4.0])
    w, tau = flow_weights(losses)
    assert tau == pytest.approx(2.5)  # the median
    assert torch.allclose(w, torch.exp(-losses / 2.5))
    assert w[0] > w[1] > w[2] > w[3]  # easier sequences weigh more
    w1, tau1 = flow_weights(losses, temperature=1.0)
    assert tau1 == 1.0 and torch.allclose(w1, torch.exp(-losses))
    lp = torch.tensor([[-1.0, -3.0, 0.0], [-2.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert sequence_losses(lp, mask).tolist() == [2.0, 2.0]


def test_flow_trainer_weights_each_sequence_by_its_base_loss(micro_track, micro_base, tmp_path):
    ctx = _context(micro_track, micro_base, tmp_path)
    trainer = get_method("flow").build_trainer(ctx, config_class("flow").parse({"max_steps": 1}))
    base, _ = load_saved_model(micro_base[0])
    rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    batch = trainer.data_collator(rows)
    lp, mask = _label_log_probs(base, batch)
    losses = sequence_losses(lp, mask)
    expected = torch.exp(-losses / torch.quantile(losses, 0.5))
    assert torch.allclose(batch["sequence_weight"], expected, atol=1e-5)
    assert trainer.sequence_weight_stats["flow_tau"] == pytest.approx(torch.quantile(losses, 0.5).item(), rel=1e-5)


def test_wise_ft_run_gives_one_run_dir_per_alpha(micro_base, tmp_path):
    from harness.cli import main
    from harness.render.load import load_records
    from harness.render.tables import leaderboard_table
    from harness.scoring import score_runs

    sub = tmp_path / "wise.yaml"
    sub.write_text("name: wise\nmethod: wise-ft\nhyperparameters:\n  alphas: [0.5, 1.0]\n")
    runs = tmp_path / "runs"
    assert main(["run", str(sub), "--track", str(TRACK), "--runs-dir", str(runs)]) == 0
    trained = runs / "micro" / "wise" / "seed0"
    assert json.loads((trained / "points.json").read_text()) == {"points": ["alpha=0.5", "alpha=1"]}
    assert not (trained / "metrics.json").exists()
    metrics = {}
    for label in ("alpha=0.5", "alpha=1"):
        m = json.loads((runs / "micro" / f"wise@{label}" / "seed0" / "metrics.json").read_text())
        assert m["status"] == "ok" and m["point"] == label and m["method"] == "wise-ft"
        metrics[label] = m
    assert metrics["alpha=0.5"]["budget"] == metrics["alpha=1"]["budget"]  # one training run, one ledger
    assert main(["run", str(sub), "--track", str(TRACK), "--runs-dir", str(runs)]) == 0  # finished: reused
    table = score_runs(load_records(runs), {"micro": track_version(load_track(TRACK))}).tracks[0]
    assert sorted(r.label for r in table.rows) == ["wise @ alpha=0.5", "wise @ alpha=1"]
    cells = [row[2] for row in leaderboard_table(table).rows]
    assert all(c.detail == "wise-ft point of one training run" for c in cells)
