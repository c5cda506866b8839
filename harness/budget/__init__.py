"""The budget: the harness, not the method, meters what training consumed and stops it at the cap.

- `harness.budget.ledger`: the ledger, the caps and the arithmetic between them (pure, no torch).
- `harness.budget.meter`: the meter's state: batches counted and clipped, every model's forward pass
  metered by role, `generate` guarded, the trainer callback.
- `harness.budget.trl_adapters`: every hook into TRL's trainers (`attach_meter`), pinned by
  tests/unit/test_trl_contract.py.

Names are imported lazily, so `harness.budget.ledger` loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ledger": ("Ledger", "BudgetExceeded", "UnmeteredGeneration", "UnmeteredForward", "TrainingDiverged",
               "FLOPS_PER_PARAM_PER_TOKEN", "FORWARD_FLOPS_PER_PARAM_PER_TOKEN", "GENERATION_FLOPS_PER_PARAM_PER_TOKEN",
               "GENERATION_CAPS"),
    "meter": ("BudgetMeter", "MeterCallback", "count_parameters", "register_model", "metered_as", "active_meter"),
    "trl_adapters": ("attach_meter", "RolloutCapCallback"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'harness.budget' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.budget.{_MODULE_OF[name]}"), name)
