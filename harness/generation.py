"""Batched generation with the KV cache through transformers' `generate`.

Prompts are rendered with the tokenizer's chat template, left-padded, and decoded up to the end
token. Greedy when temperature is 0; otherwise sampling with top_k disabled (transformers would
silently use 50) unless the caller asks for it. The optional vLLM backend (`VllmGenerator`) serves
the same calls from one engine per evaluated model (`open_generator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
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


class Generator:
    """Generation for one evaluated model, behind one interface; `open_generator` builds one per model.

    The transformers generator calls `generate` on the model in memory. The vLLM generator builds one engine for the
    model (the first time it is asked for one) and serves every task, the validation items and lm-eval's general
    suite from it, then frees it when the evaluation of that model is over."""

    backend: str = "transformers"

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self.model = model
        self.tokenizer = tokenizer

    def generate(self, prompts: Sequence, sampling: SamplingConfig, progress: Progress | None = None,
                 description: str = "generating") -> list[list[Completion]]:
        return generate(self.model, self.tokenizer, prompts, sampling, progress, description)

    def close(self) -> None:
        """Release what the generator built (the vLLM engine); the model itself stays."""


class VllmGenerator(Generator):
    """The optional vLLM backend: the model is saved once to a temporary folder and served by one engine.

    With lm-eval installed the engine is built by lm-eval's own vLLM model (`lm_eval.models.vllm_causallms.VLLM`),
    so the general suite runs on it as it is and the harness's tasks use its `vllm.LLM` (`.model`); without
    lm-eval it is a plain `vllm.LLM`. Either way: one engine per evaluated model, never one per task."""

    backend = "vllm"

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> None:
        super().__init__(model, tokenizer)
        self.seed = seed
        self.engines_built = 0
        """How many engines this generator built (1 at most: the tests check it)."""
        self._folder = None
        self._llm = None
        self._lm_eval_model = None

    def _build(self) -> None:
        import tempfile

        try:
            import vllm  # noqa: F401
        except ImportError:
            from harness.optional_packages import INSTALL

            raise RuntimeError(f"the vllm backend was asked for but vllm is not installed: {INSTALL['vllm']}; or set "
                               "the track's eval.backend to transformers") from None
        self._folder = tempfile.TemporaryDirectory(prefix="harness-vllm-")
        self.model.save_pretrained(self._folder.name)
        self.tokenizer.save_pretrained(self._folder.name)
        engine_args = dict(dtype="auto", seed=self.seed, gpu_memory_utilization=vllm_memory_share())
        from harness.optional_packages import installed

        if installed("lm_eval"):
            from lm_eval.models.vllm_causallms import VLLM

            self._lm_eval_model = VLLM(pretrained=self._folder.name, batch_size="auto", **engine_args)
            self._llm = self._lm_eval_model.model
        else:  # no lm-eval, so no general suite to serve: the engine alone
            from vllm import LLM

            self._llm = LLM(model=self._folder.name, **engine_args)
        self.engines_built += 1

    @property
    def llm(self):
        """The model's one `vllm.LLM`, built on first use."""
        if self._llm is None:
            self._build()
        return self._llm

    def lm_eval_model(self):
        """lm-eval's vLLM model on this generator's engine (needs lm-eval)."""
        if self._lm_eval_model is None:
            if self._llm is not None:
                raise RuntimeError("the vLLM engine was built without lm-eval installed; install the `general` extra")
            self._build()
            if self._lm_eval_model is None:
                raise RuntimeError("lm-eval is not installed (pip install -e '.[general]')")
        return self._lm_eval_model

    def generate(self, prompts: Sequence, sampling: SamplingConfig, progress: Progress | None = None,
                 description: str = "generating") -> list[list[Completion]]:
        llm = self.llm  # built (or refused, saying what to install) before anything else
        from vllm import SamplingParams

        params = SamplingParams(
            n=sampling.k, temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or -1,
            max_tokens=sampling.max_new_tokens, seed=sampling.seed,
        )
        outputs = llm.generate(render_prompts(self.tokenizer, prompts), params, use_tqdm=False)
        return [
            [Completion(c.text, len(c.token_ids), "length" if c.finish_reason == "length" else "eos") for c in o.outputs]
            for o in outputs
        ]

    def close(self) -> None:
        import gc

        self._lm_eval_model = self._llm = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def vllm_memory_share(headroom: float = 0.9) -> float:
    """vLLM's gpu_memory_utilization (a share of the whole device) that fits beside what is already on it (the trained
    model stays in memory during evaluation): `headroom` of the memory free now."""
    if not torch.cuda.is_available():
        return headroom
    free, total = torch.cuda.mem_get_info()
    return round(max(0.05, headroom * free / total), 3)


BACKENDS = ("transformers", "vllm")


@contextmanager
def open_generator(backend: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, seed: int = 0):
    """The generator for one evaluated model, closed (its engine freed) when the block ends."""
    if backend == "transformers":
        gen = Generator(model, tokenizer)
    elif backend == "vllm":
        gen = VllmGenerator(model, tokenizer, seed)
    else:
        raise ValueError(f"unknown generation backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    try:
        yield gen
    finally:
        gen.close()


def generate_with(backend: str, model, tokenizer, prompts: Sequence, sampling: SamplingConfig,
                  progress: Progress | None = None, description: str = "generating") -> list[list[Completion]]:
    """One generation call on a generator of its own (a vLLM engine for this call alone: evaluate a whole model
    through `open_generator` instead)."""
    with open_generator(backend, model, tokenizer, sampling.seed) as gen:
        return gen.generate(prompts, sampling, progress, description)
