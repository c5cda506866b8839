"""offline-dft: DFT on self-generated correct samples (the DFT paper's offline setting).

One round of rejection sampling from the base model through the metered sampler (as rft), then
TRL's SFTTrainer with loss_type "dft" (each target token's NLL scaled by sg(p(token))) on the kept
samples.
"""

from __future__ import annotations

from harness.methods.star import StarMethod


class OfflineDFTMethod(StarMethod):  # under RFTConfig: one round from the base model
    loss_type = "dft"
