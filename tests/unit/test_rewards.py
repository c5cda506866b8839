"""Rewards are the task's grader: on every completion they agree with what evaluation records."""

import pytest

from harness.schemas import TaskRef
from harness.evaluate import evaluate_task
from harness.models import load_saved_model
from harness.rewards import chain_correct, reward_funcs, rl_dataset
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
    assert process == [1, 0, 0, 0, 0, 1, 0]  # the whole chain right, separators allowed; a short answer gets 0
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
