"""SFT data recipes: Mix-k shares, matching an RL run's ledger, and self/model rollouts through the meter."""

import json

import pytest

from harness.budget import BudgetMeter, count_parameters
from harness.schemas import BudgetConfig, DataRecipeConfig
from harness.submissions import parse_submissions
from harness.data_recipes import RecipeContext, build_sft_data, plan, split_by_share
from harness.errors import ConfigError
from harness.models import load_saved_model
from harness.rollouts import ROLLOUTS_FILE
from harness.sampler import MeteredSampler
from harness.tasks import Example, load_task

EXAMPLES = tuple(Example(f"parity {i:04b}", f"={i % 2}", str(i % 2)) for i in range(6))


def _ctx(tmp_path, examples=EXAMPLES, model=None, tokenizer=None, sampler=None):
    return RecipeContext(task=load_task("parity"), examples=examples, model=model, tokenizer=tokenizer, sampler=sampler,
                         max_new_tokens=12, track="micro", seed=0, runs_dir=tmp_path)


def _rl_run(tmp_path, tallies):
    run = tmp_path / "rl-run"
    run.mkdir(exist_ok=True)
    prompts = {EXAMPLES[i].prompt: {"rollouts": n, "correct": c} for i, (n, c) in tallies.items()}
    (run / ROLLOUTS_FILE).write_text(json.dumps({"task": "parity", "prompts": prompts}))
    return run


@pytest.mark.parametrize("k, shares", [(1, (0.9, 0.1)), (2, (0.7, 0.3)), (3, (0.5, 0.5)), (5, (0.1, 0.9))])
def test_mix_k_shares(k, shares):
    recipe = DataRecipeConfig(recipe="mix", mix=[{"source": "self"}, {"source": "gold"}], mix_k=k)
    got = tuple(round(s.share, 10) for s in recipe.sources())
    assert got == shares


def test_split_by_share_partitions_the_prompts():
    wants, _ = plan(DataRecipeConfig(), _ctx(None, examples=EXAMPLES + EXAMPLES[:4]))
    recipe = DataRecipeConfig(recipe="mix", mix=[{"source": "self"}, {"source": "gold"}], mix_k=2)
    parts = split_by_share(wants, recipe.sources(), seed=0)
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(w.example.prompt for p in parts for w in p) == sorted(w.example.prompt for w in wants)


# An RL run saw prompts 0-3: 8 rollouts each with 3, 0, 8 and 1 correct; prompts 4-5 never.
TALLIES = {0: (8, 3), 1: (8, 0), 2: (8, 8), 3: (8, 1)}


@pytest.mark.parametrize("by, correct, wrong, prompts", [
    ("prompts", [1, 1, 1, 1], [0, 0, 0, 0], 4),
    ("solvable_prompts", [1, 1, 1], [0, 0, 0], 3),
    ("correct_rollouts", [3, 8, 1], [0, 0, 0], 3),
    ("total_rollouts", [3, 0, 8, 1], [5, 8, 0, 7], 4),
])
def test_matching_an_rl_runs_ledger(tmp_path, by, correct, wrong, prompts):
    run = _rl_run(tmp_path, TALLIES)
    wants, matched = plan(DataRecipeConfig(match={"run": str(run), "by": by}), _ctx(tmp_path))
    assert [w.correct for w in wants] == correct and [w.wrong for w in wants] == wrong
    assert len(wants) == prompts
    assert matched == {"run": str(run), "by": by, "prompts": 4, "solvable_prompts": 3, "rollouts": 32, "correct_rollouts": 12}
    if by == "total_rollouts":
        assert sum(correct) + sum(wrong) == matched["rollouts"]  # every RL rollout, right or wrong, has an SFT sample


def test_gold_matched_by_correct_rollouts_repeats_demonstrations(tmp_path):
    run = _rl_run(tmp_path, TALLIES)
    data, summary = build_sft_data(DataRecipeConfig(match={"run": str(run), "by": "correct_rollouts"}), _ctx(tmp_path))
    assert len(data) == 12 and summary["examples"] == 12 and summary["prompts"] == 3
    with pytest.raises(ValueError, match="no wrong samples"):
        build_sft_data(DataRecipeConfig(match={"run": str(run), "by": "total_rollouts"}), _ctx(tmp_path))


class ScriptedSampler:
    """Answers every prompt with the next completions of a script (one list per pass), like the metered sampler."""

    def __init__(self, passes):
        self.passes, self.calls = passes, []

    def sample(self, model, prompts, *, k, **kwargs):
        from harness.generation import Completion

        texts = self.passes[len(self.calls)]
        self.calls.append((list(prompts), k))
        return [[Completion(texts[j % len(texts)], 2, "eos") for j in range(k)] for _ in prompts]


def test_self_sampling_repeats_passes_until_the_quota_is_met(tmp_path):
    run = _rl_run(tmp_path, {1: (4, 3)})  # prompt 1 ("parity 0001", answer 1): 3 correct and 1 wrong rollout
    sampler = ScriptedSampler([["=0", "=0"], ["=1", "=0"], ["=1", "=1"]])
    recipe = DataRecipeConfig(recipe="self", match={"run": str(run), "by": "total_rollouts"}, samples_per_prompt=2,
                              max_samples_per_prompt=6)
    data, summary = build_sft_data(recipe, _ctx(tmp_path, sampler=sampler))
    assert len(sampler.calls) == 3  # passes 1 and 2 leave it short of 3 correct; pass 3 fills it
    assert [r["completion"][0]["content"] for r in data] == ["=1", "=1", "=1", "=0"]
    assert (summary["sources"][0]["correct"], summary["sources"][0]["wrong"], summary["sources"][0]["rollouts"]) == (3, 1, 6)


def test_a_run_from_another_track_cannot_be_matched(tmp_path):
    run = tmp_path / "other"
    run.mkdir()
    (run / ROLLOUTS_FILE).write_text(json.dumps({"task": "x", "prompts": {"copy abc": {"rollouts": 1, "correct": 1}}}))
    with pytest.raises(ValueError, match="not training prompts"):
        plan(DataRecipeConfig(match={"run": str(run), "by": "prompts"}), _ctx(tmp_path))


def test_recipe_config_errors():
    with pytest.raises(ValueError, match="shares must sum to 1"):
        DataRecipeConfig(recipe="mix", mix=[{"source": "self", "share": 0.5}, {"source": "gold", "share": 0.4}])
    with pytest.raises(ValueError, match="exactly one of"):
        DataRecipeConfig(recipe="model")
    with pytest.raises(ValueError, match="exactly one of"):
        DataRecipeConfig(match={"by": "prompts"})
    with pytest.raises(ConfigError, match="data recipe does not apply"):
        parse_submissions({"name": "g", "method": "grpo", "data": {"recipe": "self"}}, "g.yaml")
    (sub,) = parse_submissions({"name": "s", "method": "sft", "data": {"recipe": "self", "samples_per_prompt": 2}}, "s.yaml")
    assert sub.data.recipe == "self"


def test_self_and_model_rollouts_are_sampled_through_the_meter(micro_track, micro_base, tmp_path):
    model, tok = load_saved_model(micro_base[0])
    meter = BudgetMeter(BudgetConfig(), count_parameters(model))
    sampler = MeteredSampler(meter, tok, max_new_tokens=12, seed=0)
    task = load_task("parity")
    examples = tuple(task.split("train", 40, 0))
    saved = tmp_path / "teacher-run"
    model.save_pretrained(saved / "model")
    tok.save_pretrained(saved / "model")
    recipe = DataRecipeConfig(recipe="mix", mix=[{"source": "self"}, {"source": "model", "model": str(saved)}], mix_k=3,
                              samples_per_prompt=4, max_samples_per_prompt=4)
    data, summary = build_sft_data(recipe, _ctx(tmp_path, examples, model, tok, sampler))
    self_part, model_part = summary["sources"]
    assert self_part["prompts"] == model_part["prompts"] == 20
    assert model_part["model"] == str(saved / "model")
    assert meter.ledger.rollouts == self_part["rollouts"] + model_part["rollouts"] == 160
    assert len(data) == self_part["correct"] + model_part["correct"] > 0
    for row in data:  # every kept sample is correct by the task's grader
        ex = next(e for e in examples if e.prompt == row["prompt"][0]["content"])
        assert task.grade(row["completion"][0]["content"], ex).correct
