"""Rewards are the task's grader: on every completion they agree with what evaluation records."""

import pytest

from harness.schemas import TaskRef
from harness.evaluate import evaluate_task
from harness.models import load_saved_model
from harness.rewards import GRANULARITY, REWARD_NAMES, chain_correct, reward_funcs, rl_dataset, step_rewards
from harness.rollouts import RolloutLog, prompt_key
from harness.tasks import Example, load_task
from harness import track_data

PARITY = Example("parity 0110", "0100=0", "0", ("0", "1", "0", "0"))


def _rewards(names, completions, example=PARITY, task="parity"):
    funcs = reward_funcs(load_task(task), [example], names)
    prompts = [rl_dataset([example])[0]["prompt"]] * len(completions)
    return [f(prompts=prompts, completions=completions, item=[0] * len(completions)) for f in funcs]


def test_outcome_process_and_format_rewards_by_hand():
    completions = ["0100=0", "=0", "=1", "0110=0", "0100=1", "0 1 0 0=0", "garbage"]
    outcome, process, fmt = _rewards(["outcome", "process", "format"], completions)
    assert outcome == [1, 1, 0, 1, 0, 1, 0]
    # the whole sequence valid: a right chain (separators allowed) or a right short answer (paper 002, Sec. 3.2)
    assert process == [1, 1, 0, 0, 0, 1, 0]
    assert fmt == [1, 1, 1, 1, 1, 1, 0]


def test_trl_message_completions_and_multiplication_chains():
    ex = Example("mul 21*3", "36+=36", "36", ("36",))
    assert chain_correct("36=36", ex)
    mul = Example("mul 12*21", "21+042=252", "252", ("21", "042"))
    assert chain_correct("21+042=252", mul) and not chain_correct("21+041=252", mul)
    (outcome,) = _rewards(["outcome"], [[{"role": "assistant", "content": "0100=0"}]])
    assert outcome == [1.0]


def test_prompt_keys_agree_between_examples_and_trl_messages():
    assert prompt_key(PARITY.prompt) == prompt_key(rl_dataset([PARITY])[0]["prompt"]) == "parity 0110"
    log = RolloutLog.for_examples(load_task("parity"), [PARITY])
    log.record_many(rl_dataset([PARITY, PARITY])["prompt"], [[{"role": "assistant", "content": "=0"}], "=1"])
    assert log.as_dict()["prompts"] == {"parity 0110": {"rollouts": 2, "correct": 1}}


def test_process_reward_refuses_tasks_without_synthetic_chains():
    with pytest.raises(ValueError, match="process reward"):
        reward_funcs(load_task(TaskRef(task="word-arith")), [PARITY], ["process"])


def test_outcome_reward_matches_evaluation_on_model_samples(micro_track, micro_base):
    """Sampled completions of the real micro model: the reward equals evaluation's `correct` on each."""
    model, tok = load_saved_model(micro_base[0])
    task = next(t for t, role in track_data.eval_tasks(micro_track) if role == "domain")
    items = track_data.test_items(micro_track, task)
    res = evaluate_task(model, tok, task, items, "domain", micro_track.eval.model_copy(update={"temperature": 1.0, "k": 2}))
    (reward,) = reward_funcs(task, items, ["outcome"])
    got = reward(prompts=[s["prompt"] for s in res.samples], completions=[s["completion"] for s in res.samples],
                 item=[s["item"] for s in res.samples])
    assert got == [float(s["correct"]) for s in res.samples]
    assert len(set(s["completion"] for s in res.samples)) > 1  # sampling gave varied completions to grade


# A 4-sparse parity chain by hand: relevant bits x_i1..x_i4 = 1, 0, 1, 1 -> gold chain y = 1, 0, 1 (k - 1 = 3 steps),
# answer 1. Step rewards are +-1/3 (paper 001, Eq. 5 with y in {-1, +1} and 1/(k-1) = 1/3).
KPAR = Example("kparity 1011", "101=1", "1", ("1", "0", "1"),
               {"chain_rule": "serial", "phi": "parity", "relevant_bits": "1011"})


def _step(completion, example=KPAR):
    return [round(r * 3) for _, _, r in step_rewards(completion, example)]


def test_step_reward_scores_each_step_against_the_models_own_previous_step():
    assert _step("101=1") == [1, 1, 1, 1]  # every step and the answer right
    # Step 1 wrong (0 instead of 1). Step 2 = 0 xor x_i3 (1) = 1 given the model's own step 1: the model's "1" scores,
    # although the gold step 2 is 0. Step 3 = 1 xor x_i4 (1) = 0 given its own step 2: "0" scores. The answer repeats
    # the model's own last step: scores.
    assert _step("010=0") == [-1, 1, 1, 1]
    # Step 1 wrong, step 2 "0" wrong given it (0 xor 1 = 1), step 3 "1" right given the model's own step 2 (0 xor 1).
    assert _step("001=1") == [-1, -1, 1, 1]
    assert _step("100=1") == [1, 1, -1, -1]  # a wrong last step; the answer 1 does not repeat it
    assert _step("1=1") == [1, -1, -1, -1]  # missing steps score -1, and the answer has no last step to repeat
    assert _step("garbage") == [-1, -1, -1, -1]


def test_step_reward_spans_and_granularity():
    assert [(a, b) for a, b, _ in step_rewards("101=1", KPAR)] == [(0, 1), (1, 2), (2, 3), (4, 5)]
    # a missing position's span is what was written in its place, so its penalty has tokens to land on
    assert [(a, b) for a, b, _ in step_rewards("1=1", KPAR)] == [(0, 1), (1, 2), (1, 2), (1, 3)]  # early "="
    # the answer is read by position (k-1 chain characters, "=", one bit): repeated answers after a right chain
    # are wrong, and the whole surplus is the answer's span (a policy once learned to append "=1=1=1" unscored)
    assert _step("101=1=1") == [1, 1, 1, -1]
    assert step_rewards("101=1=1", KPAR)[-1][:2] == (4, 7)
    assert _step("10111=1") == [1, 1, 1, -1]  # a chain run on past k-1 characters, then an answer
    assert [(a, b) for a, b, _ in step_rewards("1010000", KPAR)] == [(0, 1), (1, 2), (2, 3), (3, 7)]  # ran on
    assert [(a, b) for a, b, _ in step_rewards("10", KPAR)] == [(0, 1), (1, 2), (2, 2), (2, 2)]  # ended: end token
    assert [(a, b) for a, b, _ in step_rewards("101=", KPAR)] == [(0, 1), (1, 2), (2, 3), (4, 4)]
    assert set(GRANULARITY) == set(REWARD_NAMES) and GRANULARITY["step"] == "step"
    assert {GRANULARITY[n] for n in ("outcome", "process", "format")} == {"sequence"}
    (step, outcome) = reward_funcs(load_task("ksparse-parity"), [KPAR], ["step", "outcome"])
    assert step.granularity == "step" and outcome.granularity == "sequence"
    prompts = [rl_dataset([KPAR])[0]["prompt"]] * 2
    total = step(prompts=prompts, completions=["101=1", "010=0"], item=[0, 0])
    assert total == pytest.approx([4 / 3, 2 / 3])  # the sequence total TRL logs: the sum of the step rewards
    assert step.spans("010=0", 0)[1] == (1, 2, pytest.approx(1 / 3))


def test_step_reward_refuses_tasks_without_a_serial_chain():
    with pytest.raises(ValueError, match="step reward"):
        reward_funcs(load_task("parity"), [PARITY], ["step"])
