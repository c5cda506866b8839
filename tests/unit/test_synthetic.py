import random

import pytest

from harness.schemas import TaskRef
from harness.tasks import GENERATORS, final_answer, load_task
from harness.tasks.types import chain_steps


def test_parity_chain_is_the_running_xor():
    rng = random.Random(0)
    for _ in range(50):
        ex = GENERATORS.get("parity")(rng, n_bits=8, cot_prob=1.0)
        bits = ex.prompt.split()[1]
        acc = 0
        for i, b in enumerate(bits):
            acc ^= int(b)
            assert ex.chain[i] == str(acc)
        assert ex.answer == str(sum(map(int, bits)) % 2)
        assert ex.completion == "".join(ex.chain) + "=" + ex.answer


def test_parity_cot_probability_controls_the_mixture():
    rng = random.Random(1)
    long = sum("=" != GENERATORS.get("parity")(rng, cot_prob=0.05).completion[0] for _ in range(4000))
    assert 0.03 < long / 4000 < 0.07
    assert all(GENERATORS.get("parity")(rng, cot_prob=0.0).completion.startswith("=") for _ in range(100))


@pytest.mark.parametrize("phi,fn", [("parity", lambda a, b: a ^ b), ("and", lambda a, b: a & b), ("or", lambda a, b: a | b)])
def test_ksparse_chain_uses_the_fixed_secret_subset(phi, fn):
    rng = random.Random(2)
    subset = sorted(random.Random(5).sample(range(10), 4))
    for _ in range(30):
        ex = GENERATORS.get("ksparse")(rng, d=10, k=4, phi=phi, subset_seed=5)
        bits = ex.prompt.split()[1]
        xs = [int(bits[i]) for i in subset]
        y = fn(xs[0], xs[1])
        expect = [y]
        for x in xs[2:]:
            y = fn(y, x)
            expect.append(y)
        assert ex.chain == tuple(map(str, expect))
        assert ex.answer == str(expect[-1])


def test_multiplication_trace_adds_up_reversed():
    rng = random.Random(3)
    for _ in range(50):
        ex = GENERATORS.get("multiplication")(rng, digits_a=3, digits_b=2, cot_prob=1.0)
        a, b = (int(x[::-1]) for x in ex.prompt.split()[1].split("*"))
        partials = [int(p[::-1]) for p in chain_steps(ex.completion).split("+")]
        assert sum(partials) == a * b
        assert int(ex.answer[::-1]) == a * b


def test_modsum_chain_is_the_running_sum_and_cot_prob_leaves_the_prompts_alone():
    gen = GENERATORS.get("modsum")
    rng_short, rng_long = random.Random(6), random.Random(6)
    short = [gen(rng_short, terms=8) for _ in range(40)]
    long = [gen(rng_long, terms=8, cot_prob=1.0) for _ in range(40)]
    assert [e.prompt for e in short] == [e.prompt for e in long]  # the coin is drawn either way
    for ex in long:
        digits = [int(c) for c in ex.prompt.split()[1]]
        assert len(digits) == 8
        running = [sum(digits[: i + 1]) % 10 for i in range(8)]
        assert ex.completion == "".join(map(str, running)) + f"={running[-1]}"
        assert ex.answer == str(sum(digits) % 10) and ex.chain == tuple(map(str, running))
    assert all(e.completion == f"={e.answer}" for e in short)
    with pytest.raises(ValueError, match="modulus"):
        gen(random.Random(0), modulus=11)


@pytest.mark.parametrize(
    "name,check",
    [
        ("copy", lambda w, a: a == w),
        ("reverse", lambda w, a: a == w[::-1]),
        ("sort", lambda w, a: a == "".join(sorted(w))),
    ],
)
def test_string_skills(name, check):
    rng = random.Random(4)
    for _ in range(30):
        ex = GENERATORS.get(name)(rng)
        assert check(ex.prompt.split()[1], ex.answer)


def test_addition_and_max():
    rng = random.Random(5)
    ex = GENERATORS.get("addition")(rng, digits=3)
    a, b = (int(x[::-1]) for x in ex.prompt.split()[1].split("+"))
    assert int(ex.answer[::-1]) == a + b
    ex = GENERATORS.get("max")(rng, digits=3)
    _, a, b = ex.prompt.split()
    assert ex.answer == str(max(int(a), int(b)))


def test_splits_are_seeded_and_disjoint():
    task = load_task("parity")
    test = task.split("test", 100, seed=1)
    assert test == task.split("test", 100, seed=1)
    assert test != task.split("test", 100, seed=2)
    train = task.split("train", 500, seed=0, exclude=frozenset(ex.prompt for ex in test))
    assert not {ex.prompt for ex in test} & {ex.prompt for ex in train}
    assert len({ex.prompt for ex in train}) == 500


def test_split_that_cannot_be_filled_says_so():
    task = load_task(TaskRef(task="parity", params={"n_bits": 3}))
    with pytest.raises(ValueError, match="cannot produce"):
        task.split("test", 20, seed=0)


def test_grader_is_exact_on_the_final_answer():
    task = load_task("parity")
    ex = task.split("test", 1, seed=0)[0]
    assert task.grade(f"0101={ex.answer}", ex).correct
    assert task.grade(f"={ex.answer}", ex).correct
    assert not task.grade(f"={1 - int(ex.answer)}", ex).correct
    no_answer = task.grade("0101", ex)
    assert not no_answer.correct and no_answer.extracted is None
    assert final_answer("1=0=1") == "1"
