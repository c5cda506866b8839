"""dft: Dynamic Fine-Tuning, each target token's NLL scaled by sg(p(token)); TRL's native loss_type="dft"."""

from __future__ import annotations

from harness.methods.sft import SFTMethod


class DFTMethod(SFTMethod):
    loss_type = "dft"
