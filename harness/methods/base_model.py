"""base: no training; the track's base model evaluated as is. Every track's reference point.

Its registry entry says it does not train, and its config class (configs.NoHyperparameters) takes nothing.
"""

from __future__ import annotations

from harness.methods.base import Method


class BaseMethod(Method):
    """The plain Method: `build_trainer` refuses, `points` is the model itself."""
