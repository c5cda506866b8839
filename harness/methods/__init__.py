"""The method registry. Adding a method is one module plus one line here."""

from __future__ import annotations

from harness.methods.base import Method, MethodConfig, TrainContext
from harness.registry import Registry

METHODS: Registry[Method] = Registry("method")


def _register(method: Method) -> None:
    METHODS.register(method.name)(method)


from harness.methods.base_model import BaseMethod  # noqa: E402
from harness.methods.dft import DFTMethod  # noqa: E402
from harness.methods.sft import SFTMethod  # noqa: E402
from harness.methods.talr import TALRMethod  # noqa: E402

for _m in (BaseMethod(), SFTMethod(), DFTMethod(), TALRMethod()):
    _register(_m)

# Forgetting mitigations of the TALR paper's comparison, and DFT's concurrent baseline: one line each.
from harness.methods.flow import FLOWMethod  # noqa: E402
from harness.methods.iw_sft import IWSFTMethod  # noqa: E402
from harness.methods.kl import KLMethod  # noqa: E402
from harness.methods.l2 import L2Method  # noqa: E402
from harness.methods.lora import LoRAMethod  # noqa: E402
from harness.methods.wise_ft import WiSEFTMethod  # noqa: E402

for _m in (LoRAMethod(), L2Method(), KLMethod(), WiSEFTMethod(), FLOWMethod(), IWSFTMethod()):
    _register(_m)

# RL and self-generated-data methods: they sample only through ctx.sampler or inside a metered TRL trainer.
from harness.methods.dpo import DPOMethod  # noqa: E402
from harness.methods.grpo import GRPOMethod  # noqa: E402
from harness.methods.offline_dft import OfflineDFTMethod  # noqa: E402
from harness.methods.reinforce import ReinforceMethod  # noqa: E402
from harness.methods.rft import RFTMethod  # noqa: E402
from harness.methods.rloo import RLOOMethod  # noqa: E402
from harness.methods.star import StarMethod  # noqa: E402

for _m in (GRPOMethod(), RLOOMethod(), ReinforceMethod(), StarMethod(), RFTMethod(), OfflineDFTMethod(), DPOMethod()):
    _register(_m)

__all__ = ["METHODS", "Method", "MethodConfig", "TrainContext"]
