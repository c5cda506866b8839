"""offline-dft: DFT on self-generated correct samples (the DFT paper's offline setting).

One round of rejection sampling from the base model through the metered sampler (as rft), then
TRL's SFTTrainer with loss_type "dft" (each target token's NLL scaled by sg(p(token))) on the kept
samples.
"""

from __future__ import annotations

from harness.methods.rft import RFTMethod


class OfflineDFTMethod(RFTMethod):
    name = "offline-dft"
    loss_type = "dft"
