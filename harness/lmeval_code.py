"""HumanEval's metric for lm-eval without the hub: run model-written code in a subprocess with a timeout.

lm-eval's humaneval loads Hugging Face `evaluate`'s code_eval from the hub at import time, which fails
offline. This is the same check (program = prompt + completion, then the task's tests and
`check(entry_point)`; passed = it exits cleanly within the timeout) and the same unbiased pass@k,
but each program runs in a fresh `python -I` process in an empty temporary folder, with CPU-time
and memory limits, and nothing is executed unless HF_ALLOW_CODE_EVAL=1 (code_eval's own switch,
which harness.lmeval sets only when the track or the command line allows code execution).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from math import comb

TIMEOUT_S = 3.0
"""Per program, as in code_eval."""
MEMORY_BYTES = 2 << 30


def _limits() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (int(TIMEOUT_S) + 1, int(TIMEOUT_S) + 1))
    os.setsid()


def run_program(program: str, timeout: float = TIMEOUT_S) -> bool:
    """True when `program` exits with status 0 within `timeout` seconds."""
    if os.environ.get("HF_ALLOW_CODE_EVAL") != "1":
        raise PermissionError("executing model-written code is not allowed: set general_suite.allow_code_execution "
                              "in the track or pass --allow-code-execution (sets HF_ALLOW_CODE_EVAL=1)")
    with tempfile.TemporaryDirectory(prefix="harness-code-") as cwd:
        try:
            done = subprocess.run([sys.executable, "-I", "-c", program], cwd=cwd, timeout=timeout,
                                  capture_output=True, stdin=subprocess.DEVNULL, preexec_fn=_limits,
                                  env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"})
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def _pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_at_k(references: list[str], predictions: list[list[str]], k: list[int] | int = 1) -> dict[str, float]:
    """lm-eval metric: one document's pass@k for each k (the mean over documents is the task score)."""
    ks = [k] if isinstance(k, int) else list(k)
    out: dict[str, float] = {}
    for reference, candidates in zip(references, predictions, strict=True):
        passed = sum(run_program(candidate + "\n" + reference) for candidate in candidates)
        for one in ks:
            out[f"pass@{one}"] = _pass_at_k(len(candidates), passed, one) if len(candidates) >= one else 0.0
    return out


def build_predictions(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval filter: the full program of each completion (the prompt holds the signature and docstring)."""
    return [[doc["prompt"] + r for r in resp] for resp, doc in zip(resps, docs)]
