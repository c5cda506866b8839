"""GPU throughput of the harness against bare TRL and plain `generate`, on a 0.5B-class model. Prints a table.

    python bench/gpu.py                                  # CUDA: Qwen2.5-0.5B-shaped model, bf16, sdpa
    python bench/gpu.py --attn flash_attention_2 --liger --backend vllm
    python bench/gpu.py --device cpu --tiny              # smoke test of the script itself (seconds; not a benchmark)

The model is built from a config (Qwen2 architecture, the shapes of Qwen2.5-0.5B: 24 layers, hidden 896, vocabulary
151,936, tied embeddings) with random weights: nothing comes from the hub. Text is random characters through a
character tokenizer padded to the model's vocabulary, every training row exactly --seq-len tokens, so no padding
differs between the two paths.

- training tokens/s and MFU: the harness's SFT path (`sft` method: SFTTrainer built by harness.methods with the
  track's efficiency settings, the budget meter attached and its guard on) vs bare TRL `SFTTrainer` with the same
  SFTConfig, data and batch; timed over the steps after --warmup, CUDA synchronised. MFU = model FLOPs per token
  (6 x matmul parameters + 12 x layers x hidden x sequence, PaLM's count; recomputation under gradient checkpointing
  not counted) x tokens/s / the device's peak (bf16 dense; --peak-tflops for a device the table does not know).
- evaluation tokens/s: the harness's generation (harness.generation.open_generator: batched `generate` with left
  padding, or one vLLM engine with --backend vllm) vs plain `model.generate` on the same prompts, greedy, the same
  batch; generated tokens (end token excluded) per second, after one warm-up call each.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "GH200": 989.0, "A100": 312.0, "L40S": 362.0, "L40": 181.0,
                    "A10G": 70.0, "A10": 125.0, "L4": 121.0, "A6000": 155.0, "V100": 125.0}
"""Dense bf16 (V100: fp16) tensor-core peaks from the vendors' data sheets, matched by substring of the device name
(the SXM figure where a part comes in two forms)."""

FULL = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
            vocab_size=151936, seq_len=1024, batch_size=8, steps=20, warmup=5, eval_prompts=64, prompt_len=256,
            new_tokens=256)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vocab_size=512, seq_len=64, batch_size=4, steps=2, warmup=1, eval_prompts=8, prompt_len=16, new_tokens=8)


def build_model(shape: dict, tok, dtype, device: str, attn: str | None, seed: int = 0):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    cfg = Qwen2Config(hidden_size=shape["hidden_size"], intermediate_size=shape["intermediate_size"],
                      num_hidden_layers=shape["num_hidden_layers"], num_attention_heads=shape["num_attention_heads"],
                      num_key_value_heads=shape["num_key_value_heads"], vocab_size=shape["vocab_size"],
                      max_position_embeddings=max(4096, 2 * shape["seq_len"]), tie_word_embeddings=True,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    kwargs = {"attn_implementation": attn} if attn else {}
    return AutoModelForCausalLM.from_config(cfg, dtype=dtype, **kwargs).to(device)


def training_rows(n: int, seq_len: int, seed: int = 0) -> list[dict]:
    """Conversational prompt/completion rows (the harness's SFT data shape) of exactly seq_len tokens each with the
    character tokenizer: <|user|> prompt <|assistant|> completion <eos>."""
    from harness.tokenizer import ALPHABET

    rng = random.Random(seed)
    chars = ALPHABET.replace(" ", "")
    body = seq_len - 3
    prompt_len = body // 2
    text = lambda k: "".join(rng.choice(chars) for _ in range(k))  # noqa: E731
    return [{"prompt": [{"role": "user", "content": text(prompt_len)}],
             "completion": [{"role": "assistant", "content": text(body - prompt_len)}]} for _ in range(n)]


def model_flops_per_token(model, seq_len: int) -> float:
    """6 x matmul parameters (the LM head counted even when tied to the embedding) + 12 x layers x hidden x seq."""
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    embedding = cfg.vocab_size * cfg.hidden_size
    matmul = params - embedding + (embedding if cfg.tie_word_embeddings else 0)
    return 6.0 * matmul + 12.0 * cfg.num_hidden_layers * cfg.hidden_size * seq_len


def peak_flops(device: str, override: float | None) -> tuple[float | None, str]:
    import torch

    if override:
        return override * 1e12, f"{override:g} TFLOP/s (--peak-tflops)"
    if device != "cuda":
        return None, "n/a on CPU (give --peak-tflops)"
    name = torch.cuda.get_device_name(0)
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in name:
            return tflops * 1e12, f"{tflops:g} TFLOP/s ({name})"
    return None, f"unknown for {name} (give --peak-tflops)"


class StepTimer:
    """Wall time from the start of step `warmup` to the end of the last step (CUDA synchronised)."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == timer.warmup:
                    timer.sync()
                    timer.start = time.perf_counter()

            def on_train_end(self, args, state, control, **kwargs):
                timer.sync()
                timer.end = time.perf_counter()
                timer.steps = state.global_step - timer.warmup

        self.warmup, self.start, self.end, self.steps = warmup, None, None, 0
        self.callback = Callback()

    @staticmethod
    def sync():
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    @property
    def seconds(self) -> float:
        return self.end - self.start


def train_both(shape: dict, args, tok, dtype, out: Path) -> dict:
    """(tokens/s, timed steps, seconds) of the harness's metered SFT and of bare TRL on the same config and data."""
    from datasets import Dataset
    from trl import SFTTrainer

    from harness.budget import BudgetMeter, count_parameters
    from harness.methods import TrainContext, config_class, get_method
    from harness.methods.base import meter_trainer
    from harness.schemas import BudgetConfig, EfficiencyConfig

    steps = shape["warmup"] + shape["steps"]
    data = Dataset.from_list(training_rows(steps * shape["batch_size"], shape["seq_len"]))
    eff = EfficiencyConfig(bf16=args.dtype == "bfloat16", attn_implementation=args.attn,
                           gradient_checkpointing=args.gradient_checkpointing, use_liger_kernel=args.liger,
                           padding_free=args.padding_free).model_dump()
    hp = config_class("sft").parse({"per_device_train_batch_size": shape["batch_size"], "max_steps": steps,
                                    "learning_rate": 1e-5, "warmup_steps": 0})
    results = {}
    trainer_args = None
    for path in ("harness", "trl"):
        model = build_model(shape, tok, dtype, args.device, args.attn)
        timer = StepTimer(shape["warmup"])
        if path == "harness":
            ctx = TrainContext(model=model, tokenizer=tok, train_dataset=data, output_dir=out / "harness", seed=0,
                               track=MappingProxyType({"efficiency": eff}), max_length=shape["seq_len"])
            trainer = get_method("sft").build_trainer(ctx, hp)
            meter = BudgetMeter(BudgetConfig(), count_parameters(model))
            meter_trainer(trainer, meter)
            trainer_args = trainer.args
            trainer.add_callback(timer.callback)
            with meter.guard(model):
                trainer.train()
            tokens_per_step = meter.ledger.processed_tokens / meter.ledger.optimizer_steps
        else:  # the same SFTConfig, data and batch; no harness code in the loop
            trl_args = dataclasses.replace(trainer_args, output_dir=str(out / "trl"))
            trainer = SFTTrainer(model=model, args=trl_args, train_dataset=data, processing_class=tok)
            trainer.add_callback(timer.callback)
            trainer.train()
            tokens_per_step = shape["batch_size"] * shape["seq_len"]
        results[path] = {"tokens_per_s": tokens_per_step * timer.steps / timer.seconds, "steps": timer.steps,
                         "seconds": timer.seconds, "tokens_per_step": tokens_per_step}
        results["flops_per_token"] = model_flops_per_token(model, shape["seq_len"])
        results["parameters"] = sum(p.numel() for p in model.parameters())
        del trainer, model
    return results


def generate_both(shape: dict, args, tok, dtype) -> dict:
    """Generated tokens/s of the harness's generation and of plain model.generate, greedy, same prompts and batch."""
    import torch

    from harness.generation import open_generator, render_prompts
    from harness.schemas import SamplingConfig
    from harness.tokenizer import ALPHABET

    rng = random.Random(1)
    chars = ALPHABET.replace(" ", "")
    prompts = ["".join(rng.choice(chars) for _ in range(shape["prompt_len"])) for _ in range(shape["eval_prompts"])]
    sampling = SamplingConfig(k=1, temperature=0.0, max_new_tokens=shape["new_tokens"], batch_size=len(prompts), seed=0)
    model = build_model(shape, tok, dtype, args.device, args.attn).eval()

    def plain():
        enc = tok(render_prompts(tok, prompts), return_tensors="pt", padding=True, padding_side="left",
                  add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            seqs = model.generate(**enc, max_new_tokens=shape["new_tokens"], do_sample=False, temperature=None,
                                  top_p=None, top_k=None, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        new = seqs[:, enc["input_ids"].shape[1]:].tolist()
        return [ids[: ids.index(tok.eos_token_id)] if tok.eos_token_id in ids else
                [t for t in ids if t != tok.pad_token_id] for ids in new]

    results = {}
    with open_generator(args.backend, model, tok, seed=0) as gen:
        for path, call in (("plain generate", plain), (f"harness ({args.backend})",
                                                       lambda: gen.generate(prompts, sampling))):
            call()  # warm-up (kernels, the vLLM engine)
            StepTimer.sync()
            t0 = time.perf_counter()
            out = call()
            StepTimer.sync()
            dt = time.perf_counter() - t0
            tokens = sum(len(x) for x in out) if path == "plain generate" else sum(c[0].length for c in out)
            results[path] = {"tokens_per_s": tokens / dt, "tokens": tokens, "seconds": dt}
    return results


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a tiny model and a few steps: a smoke test, not a benchmark")
    ap.add_argument("--dtype", choices=["bfloat16", "float32"], default=None, help="default: bfloat16 on CUDA, else float32")
    ap.add_argument("--attn", choices=["eager", "sdpa", "flash_attention_2"], default="sdpa")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--liger", action="store_true", help="use_liger_kernel (needs liger-kernel)")
    ap.add_argument("--padding-free", action="store_true", help="padding-free packed batches (needs flash_attention_2)")
    ap.add_argument("--backend", choices=["transformers", "vllm"], default="transformers", help="the harness's generation")
    ap.add_argument("--steps", type=int, help="timed training steps (after --warmup)")
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seq-len", type=int)
    ap.add_argument("--peak-tflops", type=float, help="the device's peak for MFU, when the built-in table lacks it")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: 1 with --tiny, else torch's own)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)

    import torch
    from rich.console import Console
    from rich.table import Table

    from harness.cli import _quiet_libraries
    from harness.tokenizer import build_char_tokenizer

    _quiet_libraries()
    if args.threads or args.tiny:  # one thread: a tiny model on a shared CPU spends its time waiting for threads
        torch.set_num_threads(args.threads or 1)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here; use --device cpu (with --tiny for the smoke test)")
    shape = dict(TINY if args.tiny else FULL)
    for key in ("steps", "warmup", "batch_size", "seq_len"):
        if getattr(args, key) is not None:
            shape[key] = getattr(args, key)
    args.dtype = args.dtype or ("bfloat16" if args.device == "cuda" else "float32")
    dtype = getattr(torch, args.dtype)
    if args.padding_free and args.attn != "flash_attention_2":
        sys.exit("--padding-free needs --attn flash_attention_2")
    from harness.optional_packages import INSTALL, installed

    for wanted, module in ((args.liger, "liger_kernel"), (args.attn == "flash_attention_2", "flash_attn"),
                           (args.backend == "vllm", "vllm")):
        if wanted and not installed(module):
            sys.exit(f"{module} is not installed: {INSTALL[module]}")
    tok = build_char_tokenizer(vocab_size=shape["vocab_size"])
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train = train_both(shape, args, tok, dtype, Path(tmp))
    gen = generate_both(shape, args, tok, dtype)
    peak, peak_text = peak_flops(args.device, args.peak_tflops)

    def mfu(tokens_per_s: float) -> float | None:
        return train["flops_per_token"] * tokens_per_s / peak if peak else None

    figures = {
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "tiny": args.tiny, "dtype": args.dtype, "attn": args.attn, "gradient_checkpointing": args.gradient_checkpointing,
        "liger": args.liger, "padding_free": args.padding_free, "backend": args.backend, "shape": shape,
        "parameters": train["parameters"], "flops_per_token": train["flops_per_token"], "peak": peak_text,
        "train": {p: {**train[p], "mfu": mfu(train[p]["tokens_per_s"])} for p in ("harness", "trl")},
        "eval": gen, "wall_seconds": time.perf_counter() - t_start, "torch_threads": torch.get_num_threads(),
    }
    table = Table(title=f"bench/gpu.py: {figures['parameters'] / 1e6:.1f}M-parameter Qwen2-shaped model on "
                        f"{figures['device']} ({args.dtype}, {args.attn}{', tiny smoke test' if args.tiny else ''})")
    for col in ("measure", "harness", "baseline", "harness / baseline"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    h, b = figures["train"]["harness"], figures["train"]["trl"]
    table.add_row(f"training tokens/s (SFT vs bare TRL; batch {shape['batch_size']} x {shape['seq_len']}, "
                  f"{h['steps']} timed steps)", f"{h['tokens_per_s']:,.0f}", f"{b['tokens_per_s']:,.0f}",
                  f"{h['tokens_per_s'] / b['tokens_per_s']:.3f}")
    fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    table.add_row(f"MFU (peak {peak_text})", fmt(h["mfu"]), fmt(b["mfu"]), "")
    hg, pg = gen[f"harness ({args.backend})"], gen["plain generate"]
    table.add_row(f"evaluation tokens/s (vs plain generate; {shape['eval_prompts']} prompts, "
                  f"{shape['new_tokens']} new tokens, greedy)", f"{hg['tokens_per_s']:,.0f}", f"{pg['tokens_per_s']:,.0f}",
                  f"{hg['tokens_per_s'] / pg['tokens_per_s']:.3f}")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
