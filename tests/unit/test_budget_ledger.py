"""The ledger's arithmetic: caps, FLOPs and reports, as plain numbers (no torch, no model)."""

import subprocess
import sys

import pytest

from harness.budget.ledger import (
    Ledger,
    budget_report,
    cap_reached,
    generation_room,
    over_caps,
    token_cap,
)
from harness.schemas import BudgetConfig


def test_the_ledger_module_loads_without_torch():
    code = "import sys, harness.budget.ledger; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flops_split_into_training_forward_and_generation():
    ledger = Ledger(parameters=100, gradient_tokens=7)
    ledger.charge_forward("reference", 30, parameters=50)
    ledger.charge_forward("reference", 10, parameters=50)
    ledger.charge_forward("scoring", 5)
    ledger.charge_generation(rollouts=2, tokens=9, parameters=40)
    assert ledger.train_flops == 6 * 100 * 7
    assert ledger.forward_tokens == {"reference": 40, "scoring": 5}
    assert ledger.forward_flops == {"reference": 2 * 50 * 40, "scoring": 2 * 100 * 5}
    assert ledger.generation_flops == 2 * 40 * 9
    assert ledger.total_flops == 6 * 100 * 7 + 2 * 50 * 40 + 2 * 100 * 5 + 2 * 40 * 9
    used = ledger.as_dict()
    assert used["train_flops"] == ledger.train_flops and used["total_flops"] == ledger.total_flops
    assert used["forward_flops"] == ledger.forward_flops


def test_without_other_forwards_the_flops_cap_is_the_old_token_cap():
    caps = BudgetConfig(train_flops=6 * 100 * 7 + 599)  # 7.998 tokens' worth: floor
    assert token_cap(caps, Ledger(parameters=100)) == 7
    assert token_cap(BudgetConfig(gradient_tokens=5, train_flops=6 * 100 * 7), Ledger(parameters=100)) == 5
    assert token_cap(BudgetConfig(), Ledger(parameters=100)) is None


def test_forward_and_generation_flops_leave_fewer_gradient_tokens():
    caps = BudgetConfig(train_flops=6 * 100 * 10)
    ledger = Ledger(parameters=100)
    ledger.charge_forward("reference", 15)  # 2 x 100 x 15 = 3000 = 5 tokens of training
    assert token_cap(caps, ledger) == 5
    assert token_cap(caps, ledger, reserved_flops=600) == 4
    ledger.charge_generation(1, 15)  # another 3000
    assert token_cap(caps, ledger) == 0
    assert token_cap(caps, ledger, reserved_flops=600) == -1  # the other FLOPs alone pass the cap


def test_cap_reached_names_the_cap_that_binds():
    ledger = Ledger(parameters=100, gradient_tokens=5)
    assert cap_reached(BudgetConfig(gradient_tokens=5), ledger) == "gradient_tokens"
    assert cap_reached(BudgetConfig(gradient_tokens=9, train_flops=6 * 100 * 5), ledger) == "train_flops"
    assert cap_reached(BudgetConfig(gradient_tokens=9), ledger) is None
    ledger.charge_forward("reference", 5)  # 1000 FLOPs: the total now passes 3000 at 5 - 1.67 tokens
    assert cap_reached(BudgetConfig(train_flops=3000), ledger) == "train_flops"
    assert cap_reached(BudgetConfig(optimizer_steps=0), ledger) == "optimizer_steps"


def test_the_flops_cap_applies_to_the_total():
    ledger = Ledger(parameters=100, gradient_tokens=5)  # 3000 training FLOPs
    assert over_caps(BudgetConfig(train_flops=3000), ledger) == []
    ledger.charge_forward("reference", 1)
    assert over_caps(BudgetConfig(train_flops=3000), ledger) == ["train_flops"]
    report = budget_report(BudgetConfig(train_flops=3000), ledger, "train_flops")
    assert report["within_budget"] is False and report["stopped_by_cap"] == "train_flops"
    assert report["used"]["total_flops"] == 3200 and report["caps"]["train_flops"] == 3000


@pytest.mark.parametrize("caps, room", [
    (BudgetConfig(rollouts=10), {"rollouts": 7}),
    (BudgetConfig(generated_tokens=100), {"generated_tokens": 7}),  # (100 - 30) // 10
    (BudgetConfig(generation_flops=2 * 100 * 60), {"generation_flops": 3}),  # (12000 - 6000) / 2000
    (BudgetConfig(train_flops=2 * 100 * 60), {"train_flops": 3}),  # the total cap limits generation too
])
def test_generation_room_counts_each_rollout_at_its_longest(caps, room):
    ledger = Ledger(parameters=100)
    ledger.charge_generation(3, 30)
    assert generation_room(caps, ledger, max_tokens_each=10, parameters=None) == room
