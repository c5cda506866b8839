"""Batched generation with the KV cache through transformers' `generate`.

Prompts are rendered with the tokenizer's chat template, left-padded, and decoded up to the end
token. Greedy when temperature is 0; otherwise sampling with top_k disabled (transformers would
silently use 50) unless the caller asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from rich.progress import Progress
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.schemas import SamplingConfig
from harness.tasks.types import prompt_messages


@dataclass(frozen=True)
class Completion:
    text: str
    length: int
    """Generated tokens, the end token excluded."""
    finish_reason: str
    """"eos" or "length" (stopped by max_new_tokens)."""


def render_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str | Sequence[dict[str, str]]) -> str:
    """A user message, or chat messages whose final assistant message (if any) is continued."""
    messages = prompt_messages(prompt)
    if messages[-1]["role"] == "assistant":
        return tokenizer.apply_chat_template(messages, tokenize=False, continue_final_message=True)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def render_prompts(tokenizer: PreTrainedTokenizerBase, prompts: Sequence) -> list[str]:
    return [render_prompt(tokenizer, p) for p in prompts]


@torch.inference_mode()
def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    sampling: SamplingConfig,
    progress: Progress | None = None,
    description: str = "generating",
) -> list[list[Completion]]:
    """k completions per prompt, in prompt order."""
    was_training = model.training
    model.eval()
    texts = render_prompts(tokenizer, prompts)
    eos_id = tokenizer.eos_token_id
    greedy = sampling.temperature == 0
    gen_kwargs = dict(
        max_new_tokens=sampling.max_new_tokens,
        do_sample=not greedy,
        num_return_sequences=sampling.k,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos_id,
    )
    if not greedy:
        gen_kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or None)
    else:
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(sampling.seed)
    per_batch = max(1, sampling.batch_size // sampling.k)
    out: list[list[Completion]] = []
    task_id = progress.add_task(description, total=len(texts)) if progress else None
    try:
        for start in range(0, len(texts), per_batch):
            chunk = texts[start : start + per_batch]
            enc = tokenizer(chunk, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
            enc = {k: v.to(model.device) for k, v in enc.items()}
            seqs = model.generate(**enc, **gen_kwargs)
            new = seqs[:, enc["input_ids"].shape[1] :].tolist()
            for i in range(len(chunk)):
                out.append([_completion(tokenizer, new[i * sampling.k + j], eos_id) for j in range(sampling.k)])
            if progress is not None:
                progress.advance(task_id, len(chunk))
    finally:
        torch.random.set_rng_state(generator_state)
        model.train(was_training)
    return out


def _completion(tokenizer: PreTrainedTokenizerBase, ids: list[int], eos_id: int) -> Completion:
    if eos_id in ids:
        cut = ids.index(eos_id)
        return Completion(tokenizer.decode(ids[:cut], skip_special_tokens=True), cut, "eos")
    ids = [t for t in ids if t != tokenizer.pad_token_id]
    return Completion(tokenizer.decode(ids, skip_special_tokens=True), len(ids), "length")


def generate_vllm(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence,
                  sampling: SamplingConfig) -> list[list[Completion]]:
    """The optional vLLM backend: the model is saved to a temporary folder and served by vllm.LLM."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise RuntimeError(
            "the vllm backend was asked for but vllm is not installed. On a CUDA machine install a vllm "
            "release that matches your torch (e.g. `pip install vllm==0.31.0` with torch 2.13), or use "
            "--backend transformers"
        ) from None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        llm = LLM(model=tmp, seed=sampling.seed, dtype="auto")
        params = SamplingParams(
            n=sampling.k, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or -1,
            max_tokens=sampling.max_new_tokens, seed=sampling.seed,
        )
        outputs = llm.generate(render_prompts(tokenizer, prompts), params)
    return [
        [Completion(c.text, len(c.token_ids), "length" if c.finish_reason == "length" else "eos") for c in o.outputs]
        for o in outputs
    ]


BACKENDS = ("transformers", "vllm")


def generate_with(backend: str, model, tokenizer, prompts: Sequence, sampling: SamplingConfig,
                  progress: Progress | None = None, description: str = "generating") -> list[list[Completion]]:
    """Generation behind one interface: "transformers" (default, CPU or GPU) or "vllm" (optional)."""
    if backend == "transformers":
        return generate(model, tokenizer, prompts, sampling, progress, description)
    if backend == "vllm":
        return generate_vllm(model, tokenizer, prompts, sampling)
    raise ValueError(f"unknown generation backend {backend!r}; choose one of {', '.join(BACKENDS)}")
