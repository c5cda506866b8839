"""The meter across processes (harness/budget/meter.py `across_processes`), with the all-gather played by threads:
every process ends with the one-process ledger, supervision is clipped at the cap in rank order, and forwards and
RL generation are summed. The real thing (two gloo processes) is tests/integration/test_processes.py."""

from __future__ import annotations

import threading

import torch

from harness.budget import BudgetMeter
from harness.schemas import BudgetConfig


class _Group:
    """An all-gather between threads (one per rank), called at the same points as torch.distributed's would be."""

    def __init__(self, world: int) -> None:
        self.world, self.slots, self.barrier = world, [None] * world, threading.Barrier(world)

    def gather(self, rank: int, value):
        self.slots[rank] = value
        self.barrier.wait()
        out = list(self.slots)
        self.barrier.wait()
        return out


def _meters(world: int, caps: BudgetConfig) -> list[BudgetMeter]:
    group = _Group(world)
    meters = []
    for rank in range(world):
        meter = BudgetMeter(caps, parameters=10)
        meter.rank = rank
        meter.gather = lambda values, r=rank: group.gather(r, values)
        meter.gather_objects = lambda items, r=rank: [x for part in group.gather(r, list(items)) for x in part]
        meters.append(meter)
    return meters


def _in_parallel(meters, work) -> list:
    out = [None] * len(meters)

    def run(rank):
        out[rank] = work(rank, meters[rank])

    threads = [threading.Thread(target=run, args=(r,)) for r in range(len(meters))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _batch(rows):
    labels = torch.tensor(rows)
    return {"labels": labels, "attention_mask": torch.ones_like(labels)}


ROWS = [[-100, 1, 2, 3], [-100, -100, 4, 5], [-100, 6, 7, 8], [-100, 9, 9, 9]]  # 3 + 2 + 3 + 3 supervised


def test_two_processes_clip_at_the_cap_in_rank_order_and_share_one_ledger():
    one = BudgetMeter(BudgetConfig(gradient_tokens=7), parameters=10)
    whole = one.wrap_collator(_batch)(ROWS)  # one process, the global batch of 4 rows
    one.consume_micro_batch()
    meters = _meters(2, BudgetConfig(gradient_tokens=7))
    halves = _in_parallel(meters, lambda r, m: m.wrap_collator(_batch)(ROWS[2 * r: 2 * r + 2]))
    for m in meters:
        m.consume_micro_batch()
    # Rank 0 takes its 5 first, rank 1 the 2 left: the rows clipped exactly as in the one-process batch.
    assert torch.cat([h["labels"] for h in halves]).tolist() == whole["labels"].tolist()
    for m in meters:
        assert m.ledger.gradient_tokens == one.ledger.gradient_tokens == 7
        assert m.ledger.processed_tokens == one.ledger.processed_tokens == 16
        assert m.ledger.micro_batches == 2 and m.cap_reached() == "gradient_tokens"


def test_forwards_and_rl_generation_of_every_process_are_summed():
    meters = _meters(2, BudgetConfig())

    def work(rank, meter):
        meter._in_training = True
        meter._pending_forwards.append(("reference", 10 * (rank + 1), 100))  # this process's share of the step
        meter.sync_forwards()
        meter.charge_generation(4, 20 + rank, shared=True)  # an RL trainer's generation batch, split over ranks
        meter.charge_generation(3, 9)  # the harness's sampler: the same on every process, charged once

    _in_parallel(meters, work)
    for m in meters:
        assert m.ledger.forward_tokens == {"reference": 30} and m.ledger.forward_flops == {"reference": 2 * 100 * 30}
        assert m.ledger.rollouts == 4 + 4 + 3 and m.ledger.generated_tokens == 20 + 21 + 9
