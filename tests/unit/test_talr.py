"""TALR's weights and its loss, as the method computes it (the loss function on a hand-made TokenBatch)."""

import math

import pytest
import torch

from harness.methods import config_class, get_method
from harness.methods.talr import talr_weights
from harness.methods.token_trainer import TokenBatch


def talr_loss(log_probs, label_mask, num_items=None, floor=0.01):
    """The talr method's loss on log-probs and a mask (what its trainer computes from a micro-batch)."""
    config = config_class("talr").parse({"floor": floor})
    return get_method("talr").loss(TokenBatch(log_probs, label_mask, num_items), config)[0]


def test_talr_weights_and_loss_match_a_hand_computation():
    # two sequences; the second has one padded (unsupervised) position
    p = torch.tensor([[0.9, 0.5, 0.1], [0.8, 0.2, 0.7]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    lp = p.log().masked_fill(mask == 0, 0.0)  # TRL's fused head gives 0 on ignored positions

    nll1 = [-math.log(x) for x in (0.9, 0.5, 0.1)]
    nll2 = [-math.log(x) for x in (0.8, 0.2)]
    seq_means = [sum(nll1) / 3, sum(nll2) / 2]
    tau = sorted(seq_means)[0]  # torch.median of two values is the lower one
    w_expected = [[max(x ** (1 / tau), 0.01) for x in (0.9, 0.5, 0.1)], [max(x ** (1 / tau), 0.01) for x in (0.8, 0.2)]]
    loss_expected = (sum(w * n for w, n in zip(w_expected[0], nll1)) + sum(w * n for w, n in zip(w_expected[1], nll2))) / 5

    w, got_tau = talr_weights(lp, mask)
    assert math.isclose(got_tau.item(), tau, rel_tol=1e-6)
    assert torch.allclose(w[0], torch.tensor(w_expected[0]), atol=1e-6)
    assert torch.allclose(w[1, :2], torch.tensor(w_expected[1]), atol=1e-6)
    assert w[1, 2] == 0
    assert math.isclose(talr_loss(lp, mask).item(), loss_expected, rel_tol=1e-6)


def test_floor_keeps_hard_tokens_in_the_loss():
    # tau is the lower sequence mean (0.01), so p = 1e-6 would get weight ~0 without the floor
    lp = torch.tensor([[math.log(0.99), math.log(0.99)], [math.log(1e-6), math.log(0.99)]])
    w, tau = talr_weights(lp, torch.ones_like(lp), floor=0.01)
    assert tau.item() < 0.02
    assert w[1, 0].item() == pytest.approx(0.01)
    assert w[0, 0].item() > 0.3


def test_weights_carry_no_gradient():
    lp = torch.tensor([[-0.1, -2.0]], requires_grad=True)
    loss = talr_loss(lp, torch.ones_like(lp))
    loss.backward()
    w, _ = talr_weights(lp, torch.ones_like(lp))
    # d/dlp of w * (-lp) with w constant is -w / n
    assert torch.allclose(lp.grad, -w / 2)


def test_num_items_overrides_the_token_count():
    lp = torch.log(torch.tensor([[0.5, 0.5]]))
    m = torch.ones_like(lp)
    assert math.isclose(talr_loss(lp, m, num_items=4).item(), talr_loss(lp, m).item() / 2, rel_tol=1e-6)
