"""Build and pretrain a tiny track's base model, cached under a hash of its recipe.

The base model is a real transformers Llama built from a config with the character-level
tokenizer, trained with next-token prediction (TRL's SFTTrainer, loss on the targets) on the
track's mixture of skills. It is saved in HF format with its per-skill scores, so a second run of
any submission on the track loads it instead of training it again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedModel, PreTrainedTokenizerBase
from trl import SFTConfig, SFTTrainer

from harness.hashing import stable_hash
from harness.progress import use_rich_progress
from harness.runs import atomic_write_json
from harness.paths import path_under
from harness.schemas import TrackConfig
from harness.tokenizer import ALPHABET, CHAT_TEMPLATE, build_char_tokenizer
from harness.track_data import pretrain_examples, test_prompts, to_dataset
from harness.tasks import load_task

# Bump when the pretraining code changes what it produces, so stale caches are not reused.
PRETRAIN_CODE_VERSION = 2


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE_DIR", Path.home() / ".cache" / "ft-harness"))


def recipe_key(track: TrackConfig) -> str:
    recipe = track.base_model.pretrain
    tasks = {
        name: {"config": load_task(name).config.model_dump(), "test": sorted(test_prompts(track, name))[:3]}
        for name in recipe.mixture
    }
    return stable_hash(
        {
            "code": PRETRAIN_CODE_VERSION,
            "recipe": recipe.model_dump(),
            "tasks": tasks,
            "track_task_params": {r.task: r.params for r in track.all_task_refs()},
            "eval": [track.eval.n_test, track.eval.seed],
            "alphabet": ALPHABET,
            "template": CHAT_TEMPLATE,
        }
    )


def base_model_dir(track: TrackConfig) -> Path:
    """The cache folder: the track's name and its recipe key. A study's track variant (TRACK.VARIANT) is cached under
    its track's name, so a variant that changes nothing about pretraining reuses the track's base, and one that does
    gets its own (its recipe key differs)."""
    name = track.name.rsplit(".", 1)[0] if track.overrides is not None else track.name
    return path_under(cache_root() / "base-models", f"{name}-{recipe_key(track)}")  # track names are user text


def build_model(track: TrackConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    spec = track.base_model.pretrain.model
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(track.base_model.pretrain.seed)
    return AutoModelForCausalLM.from_config(cfg)


def ensure_base_model(track: TrackConfig, console: Console | None = None) -> Path:
    """The cached base model directory of the track, pretraining it first if needed."""
    console = console or Console(stderr=True)
    target = base_model_dir(track)
    if (target / "base_scores.json").is_file():
        return target
    recipe = track.base_model.pretrain
    console.print(f"[bold]Pretraining the base model of {track.name}[/] ({recipe.steps} steps) -> {target}")
    tokenizer = build_char_tokenizer()
    model = build_model(track, tokenizer)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    args = SFTConfig(
        output_dir=str(tmp / "trainer"),
        max_steps=recipe.steps,
        per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=recipe.warmup_steps,
        weight_decay=recipe.weight_decay,
        max_length=track.training.max_length,
        completion_only_loss=True,
        bf16=False,
        gradient_checkpointing=False,
        save_strategy="no",
        report_to="none",
        logging_steps=max(recipe.steps // 10, 1),
        seed=recipe.seed,
        data_seed=recipe.seed,
        dataloader_num_workers=0,
    )
    t0 = time.perf_counter()
    trainer = SFTTrainer(model=model, args=args, train_dataset=to_dataset(pretrain_examples(track)), processing_class=tokenizer)
    use_rich_progress(trainer, "pretraining")
    trainer.train()
    seconds = time.perf_counter() - t0
    shutil.rmtree(tmp / "trainer", ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)

    from harness.evaluate import evaluate_task
    from harness.track_data import eval_tasks, test_items

    scores = {}
    for task, role in eval_tasks(track):
        res = evaluate_task(model, tokenizer, task, test_items(track, task), role, track.eval)
        scores[task.name] = {"role": role, "score": res.metrics["score"]}
    atomic_write_json(
        tmp / "base_scores.json",
        {"track": track.name, "recipe_key": recipe_key(track), "pretrain_seconds": round(seconds, 1), "scores": scores},
    )
    if target.exists():  # another process finished first; keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    console.print(f"base model scores: {json.dumps({k: v['score'] for k, v in scores.items()})} ({seconds:.0f} s)")
    return target

