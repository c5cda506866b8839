"""Serial chains of thought scored step by step (paper 001, Sec. 2.1 and App. H).

A k-sparse example (`harness.tasks.synthetic.ksparse`) carries its chain rule in `Example.meta`: the
2-input function phi and the relevant bits x_i1..x_ik in order. Its gold chain is y1 = phi(x_i1, x_i2),
y_t = phi(y_{t-1}, x_i(t+1)); the completion is `y1 y2 ... y_{k-1}=ANSWER`, one character per step.

Two ways to call step t of a model's chain right:
- local: the step equals phi(the model's OWN step t-1, x_i(t+1)) -- the label of paper 001's RL process
  reward ("the correct label of y_t given y_(:t-1)", Eq. 5 and Eq. 175). A right step after a wrong one
  still counts. For t = 1 the previous values are input bits, so local = gold.
- gold: the step equals the gold y_t computed from the input alone (SFT's label, Sec. 3.2).
The answer is one more position, read by position as the paper's fixed-length output is: the completion must be
exactly the k-1 chain characters, "=", and one bit. It is locally right when that bit repeats the model's own
last chain step, gold-right when it equals the gold answer. Anything else after the chain (a chain run on past
k-1 characters, several answers "1=1=1") makes the answer wrong, so such text cannot earn the answer's reward.
(The task's grader, which decides the domain score, reads the answer after the last "=" as before.)

A step that is missing or not a bit is wrong both ways; the step after it is then judged from the gold
previous value (the model gave none to build on).

Every position has a span, written or not, so a per-token learning signal always has tokens to land on. A missing
step's span is the "=" that came too early, or an empty span at the completion's end (its end token) when the
completion ended first. The answer's span is everything after the chain's k-1 characters but the "=" right after
them (so surplus text is charged to it), or the end token when nothing follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.tasks.types import Example

PHI = {
    "parity": lambda a, b: a ^ b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
}
BITS = ("0", "1")


@dataclass(frozen=True)
class StepScore:
    """One position of a model's chain (chain steps, then the answer)."""

    start: int
    """Character offset of the step in the completion, or of the text written in its place when it is missing."""
    end: int
    """End of that span; start == end: the completion ended before the step (its end token stands for it)."""
    local: bool
    gold: bool
    written: bool = True
    """False when the model wrote no character for this position."""


def has_serial_chain(example: Example) -> bool:
    return bool(example.meta) and example.meta.get("chain_rule") == "serial"


def chain_length(example: Example) -> int:
    """Chain steps (k - 1) of a serial-chain example."""
    return len(example.meta["relevant_bits"]) - 1


def score_steps(example: Example, completion: str) -> list[StepScore]:
    """One StepScore per chain step and one for the answer (k positions for a k-sparse example)."""
    if not has_serial_chain(example):
        raise ValueError("per-step scores need an example with a serial chain rule (a ksparse task)")
    phi = PHI[example.meta["phi"]]
    xs = [int(b) for b in example.meta["relevant_bits"]]
    steps = len(xs) - 1
    cut = completion.find("=")
    chain = completion[:cut] if cut >= 0 else completion
    size = len(completion)
    gold_prev = xs[0]
    own_prev: int | None = xs[0]
    out = []
    for t in range(1, len(xs)):
        gold = phi(gold_prev, xs[t])
        base = own_prev if own_prev is not None else gold_prev
        local_target = phi(base, xs[t])
        char = chain[t - 1] if t - 1 < len(chain) else None
        value = int(char) if char in BITS else None
        if char is not None:
            start, end = t - 1, t
        elif cut >= 0:  # the "=" came before this step: it stands in the step's place
            start, end = cut, cut + 1
        else:  # the completion ended before this step
            start, end = size, size
        out.append(StepScore(start, end, value == local_target, value == gold, written=char is not None))
        gold_prev, own_prev = gold, value
    well_placed = cut == steps  # the "=" right after the k-1 chain characters
    answer = completion[cut + 1:].rstrip() if well_placed else None
    ok_local = answer in BITS and own_prev is not None and int(answer) == own_prev
    if well_placed:  # the answer and anything after it
        start, end = cut + 1, max(cut + 1, len(completion.rstrip()))
    else:  # no "=" after the chain: the run-on text (or the early "=") onwards; the end token when nothing follows
        start = min(steps, cut) if 0 <= cut < steps else min(steps, size)
        end = size
    if start == end:
        start = end = size
    out.append(StepScore(start, end, bool(ok_local), answer == example.answer, written=bool(answer)))
    return out


def step_accuracy(examples: Sequence[Example], completions: Sequence[str]) -> dict[str, list[float]]:
    """Per-position accuracy in percent over paired examples and completions: {"local": [...], "gold": [...]}, one
    value per chain step and a last one for the answer."""
    scores = [score_steps(ex, c) for ex, c in zip(examples, completions, strict=True)]
    n = len(scores)
    width = len(scores[0]) if scores else 0
    return {kind: [round(100.0 * sum(getattr(s[i], kind) for s in scores) / n, 2) for i in range(width)]
            for kind in ("local", "gold")}
