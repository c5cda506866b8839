"""Training progress through TRL's own rich progress callback, in place of transformers' tqdm bar and printed log
dicts. TRL's callback draws on the main process only (`state.is_world_process_zero`)."""

from __future__ import annotations

from transformers.trainer_callback import PrinterCallback, ProgressCallback


def use_rich_progress(trainer, description: str = "training") -> None:
    """Replace the trainer's printing callbacks with TRL's `RichProgressCallback` (steps out of the planned total,
    and the latest logs, the `budget/` ledger values among them). `description` is kept for callers; TRL's bar
    names itself."""
    from trl.trainer.callbacks import RichProgressCallback

    for cb in (PrinterCallback, ProgressCallback, RichProgressCallback):
        trainer.remove_callback(cb)
    trainer.add_callback(RichProgressCallback())
