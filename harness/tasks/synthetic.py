"""Seeded generators of the synthetic skills the tiny tracks train and evaluate on.

Every completion has the shape `[chain of thought]=ANSWER`: the final answer is whatever follows
the last "=". Generators take a `random.Random` and keyword parameters from the task YAML, and
return one `Example`; `harness.tasks.task.Task` turns them into fixed train/test splits.

Digits of numbers are written least-significant first where carries matter (addition,
multiplication): a left-to-right decoder can then produce each digit from what it has already
written, as in the parity-with-rare-CoT research this track mirrors.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from harness.registry import Registry
from harness.tasks.chains import PHI
from harness.tasks.types import MATH_SUFFIX, Example


Generator = Callable[..., Example]
GENERATORS: Registry[Generator] = Registry("generator")


def _bits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("01") for _ in range(n))


def _with_cot(rng: random.Random, cot_prob: float, cot: str, answer: str) -> str:
    # Always draw the coin so the item stream does not depend on cot_prob.
    long_form = rng.random() < cot_prob
    return f"{cot}={answer}" if long_form else f"={answer}"


@GENERATORS.register("parity")
def parity(rng: random.Random, *, n_bits: int = 16, cot_prob: float = 0.05) -> Example:
    """Parity of n bits; with probability cot_prob the target first spells the running XOR."""
    bits = _bits(rng, n_bits)
    running, acc = [], 0
    for b in bits:
        acc ^= int(b)
        running.append(str(acc))
    answer = running[-1]
    cot = "".join(running)
    return Example(f"parity {bits}", _with_cot(rng, cot_prob, cot, answer), answer, tuple(running))


@GENERATORS.register("ksparse")
def ksparse(
    rng: random.Random, *, d: int = 12, k: int = 6, phi: str = "parity", subset_seed: int = 0, cot_prob: float = 1.0,
    balance: bool = False,
) -> Example:
    """A k-sparse Boolean function over d bits with a fixed secret subset B (chosen by subset_seed).

    The chain is the serial decomposition of paper 001 (Sec. 2.1, App. H): y1 = phi(x_i1, x_i2),
    y_j = phi(y_{j-1}, x_i(j+1)), and the answer is y_{k-1}. `balance` (for and/or, whose answer is
    otherwise 1 - 2^-k one way): with probability 1/2 every relevant bit is set to the value that decides
    the function (1 for and, 0 for or); otherwise the relevant bits are redrawn uniformly until they do not
    all hold it. The answer is then 50/50 and the irrelevant bits stay uniform. The example's `meta` holds
    the chain rule (phi and the relevant bits in order) for per-step rewards (harness.tasks.chains).
    """
    if phi not in PHI:
        raise ValueError(f"phi must be one of {sorted(PHI)}, got {phi!r}")
    if not 2 <= k <= d:
        raise ValueError(f"need 2 <= k <= d, got k={k}, d={d}")
    subset = sorted(random.Random(subset_seed).sample(range(d), k))
    bits = _bits(rng, d)
    if balance and phi != "parity":
        bits = _balanced(rng, bits, subset, "1" if phi == "and" else "0")
    xs = [int(bits[i]) for i in subset]
    ys = [PHI[phi](xs[0], xs[1])]
    for x in xs[2:]:
        ys.append(PHI[phi](ys[-1], x))
    chain = tuple(str(y) for y in ys)
    answer = chain[-1]
    meta = {"chain_rule": "serial", "phi": phi, "relevant_bits": "".join(map(str, xs))}
    return Example(f"k{phi} {bits}", _with_cot(rng, cot_prob, "".join(chain), answer), answer, chain, meta)


def _balanced(rng: random.Random, bits: str, subset: list[int], deciding: str) -> str:
    """`bits` with the relevant positions all `deciding` (probability 1/2) or redrawn until not all `deciding`."""
    out = list(bits)
    if rng.random() < 0.5:
        for i in subset:
            out[i] = deciding
    else:
        while all(out[i] == deciding for i in subset):
            for i in subset:
                out[i] = rng.choice("01")
    return "".join(out)


def _rev(n: int) -> str:
    return str(n)[::-1]


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10**digits - 1)


@GENERATORS.register("multiplication")
def multiplication(rng: random.Random, *, digits_a: int = 3, digits_b: int = 2, cot_prob: float = 0.05) -> Example:
    """a*b with digits reversed; the trace lists the shifted partial products (reversed), then the product."""
    a, b = _number(rng, digits_a), _number(rng, digits_b)
    partials = [a * int(d) * 10**j for j, d in enumerate(str(b)[::-1])]
    answer = _rev(a * b)
    chain = tuple(_rev(p) for p in partials)
    return Example(f"mul {_rev(a)}*{_rev(b)}", _with_cot(rng, cot_prob, "+".join(chain), answer), answer, chain)


def _word(rng: random.Random, min_len: int, max_len: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(min_len, max_len)))


@GENERATORS.register("copy")
def copy(rng: random.Random, *, min_len: int = 3, max_len: int = 8, alphabet: str = "abcdefgh") -> Example:
    w = _word(rng, min_len, max_len, alphabet)
    return Example(f"copy {w}", f"={w}", w)


@GENERATORS.register("reverse")
def reverse(rng: random.Random, *, min_len: int = 3, max_len: int = 8, alphabet: str = "abcdefgh") -> Example:
    w = _word(rng, min_len, max_len, alphabet)
    return Example(f"reverse {w}", f"={w[::-1]}", w[::-1])


@GENERATORS.register("sort")
def sort(rng: random.Random, *, min_len: int = 3, max_len: int = 8, alphabet: str = "abcdefgh") -> Example:
    w = _word(rng, min_len, max_len, alphabet)
    s = "".join(sorted(w))
    return Example(f"sort {w}", f"={s}", s)


@GENERATORS.register("addition")
def addition(rng: random.Random, *, digits: int = 3) -> Example:
    """a+b with operands and sum written least-significant digit first."""
    a, b = _number(rng, digits), _number(rng, digits)
    return Example(f"add {_rev(a)}+{_rev(b)}", f"={_rev(a + b)}", _rev(a + b))


@GENERATORS.register("max")
def maximum(rng: random.Random, *, digits: int = 3) -> Example:
    """Comparison: the larger of two numbers."""
    a, b = _number(rng, digits), _number(rng, digits)
    return Example(f"max {a} {b}", f"={max(a, b)}", str(max(a, b)))


@GENERATORS.register("modsum")
def modsum(rng: random.Random, *, terms: int = 3, modulus: int = 10, cot_prob: float = 0.0) -> Example:
    """Sum of a few digits modulo m; with probability cot_prob the target first spells the running sums
    (modulus <= 10, so every running sum is one character, as parity's running XOR is)."""
    if not 2 <= modulus <= 10:
        raise ValueError(f"modulus must be in 2..10, got {modulus}")
    xs = [rng.randrange(modulus) for _ in range(terms)]
    running, acc = [], 0
    for x in xs:
        acc = (acc + x) % modulus
        running.append(str(acc))
    answer = running[-1]
    return Example(f"modsum {''.join(map(str, xs))}", _with_cot(rng, cot_prob, "".join(running), answer), answer,
                   tuple(running))


_NAMES = ("Ava", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hugo", "Ivy", "Jack", "Kim", "Leo", "Mia", "Noah")
_ITEMS = ("apples", "marbles", "stickers", "books", "coins", "pencils", "shells", "cards", "stamps", "cookies")


@GENERATORS.register("word_arith")
def word_arith(rng: random.Random, *, steps: int = 3, max_start: int = 30, suffix: str = MATH_SUFFIX) -> Example:
    """A multi-step arithmetic word problem in English with a worked solution ending in a boxed answer.

    Each step adds, removes, or multiplies the count; removals never go below zero. Graded with
    math-verify (grader: math in the task YAML), like the real math benchmarks.
    """
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    count = rng.randint(2, max_start)
    story = [f"{name} has {count} {item}."]
    work = [f"{name} starts with {count} {item}."]
    chain = []
    for _ in range(steps):
        op = rng.choice(("add", "sub", "mul") if count <= 50 else ("add", "sub"))
        if op == "add":
            x = rng.randint(2, 20)
            story.append(f"Then {name} gets {x} more {item}.")
            work.append(f"After getting {x} more: {count} + {x} = {count + x}.")
            count += x
        elif op == "sub" and count > 2:
            x = rng.randint(1, count - 1)
            story.append(f"Then {name} gives away {x} {item}.")
            work.append(f"After giving away {x}: {count} - {x} = {count - x}.")
            count -= x
        else:
            x = rng.randint(2, 3)
            word = {2: "doubles", 3: "triples"}[x]
            story.append(f"Then {name} {word} the number of {item}.")
            work.append(f"After that it {word}: {count} * {x} = {count * x}.")
            count *= x
        chain.append(str(count))
    question = " ".join(story) + f" How many {item} does {name} have now?"
    prompt = f"{question}\n{suffix}" if suffix else question
    completion = " ".join(work) + f" The final answer is $\\boxed{{{count}}}$."
    return Example(prompt, completion, str(count), tuple(chain))
