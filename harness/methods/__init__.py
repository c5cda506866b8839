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

__all__ = ["METHODS", "Method", "MethodConfig", "TrainContext"]
