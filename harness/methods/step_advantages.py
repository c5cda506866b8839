"""Token-level advantages from per-step rewards: TRL's GRPOTrainer with its advantages replaced, nothing else.

Paper 001 trains with the policy gradient sum_t grad log p(y_t | y_(t-1)) * r_t (Eq. 6): each chain step is
pushed by its own step reward, not by the whole sequence's. TRL's GRPO loss already takes advantages of shape
(completions x tokens) (`_compute_loss` unsqueezes only 1-d advantages), so this subclass only recomputes them
after TRL has generated and scored a batch:

- step rewards (granularity "step", harness.rewards): each completion's rewards per chain position; with
  `credit="step"` (Eq. 6) a position's value is its own reward, with `credit="return"` the sum of its own and all
  later positions' rewards (the per-token return r_(t:), Lem. D.1). The baseline of a position is the mean value
  of that position over the prompt's group (REINFORCE's group-mean baseline, per position); the advantage lands on
  the tokens of that step. A position the model did not write lands on what it wrote instead (an early "=", a
  chain run on past its length; harness.tasks.chains) or, when the completion ended first, on its end token, so
  a missing answer is pushed down like a wrong one. Tokens outside every position (a well-placed "=", the end
  token after an answer) get no step advantage; a token standing for several missing positions sums them.
- sequence rewards (outcome, process, format) in the same list keep TRL's treatment: their weighted sum minus the
  group mean (divided by the group's standard deviation when scale_rewards is "group"), added to every token.

Generation, the loss, clipping and metering are TRL's and the harness's as for grpo: the reward functions are
still called once per generation batch by TRL (the meter charges the rollouts there), and the loss inputs are
metered as for any GRPO batch. One process: the step rewards are computed for the local completions, which on a
single device are all of them (a multi-process run would need them gathered like TRL's rewards).
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

CREDITS = ("step", "return")


def token_pieces(tokenizer, ids: list[int]) -> list[str]:
    """Each completion token decoded on its own (special tokens are empty); joined, they are the completion."""
    return [tokenizer.decode([i], skip_special_tokens=True) for i in ids]


def token_offsets(tokenizer, ids: list[int], pieces: list[str] | None = None) -> list[tuple[int, int]]:
    """Character span of each completion token in the decoded completion (special tokens are empty)."""
    spans, at = [], 0
    for piece in pieces if pieces is not None else token_pieces(tokenizer, ids):
        spans.append((at, at + len(piece)))
        at += len(piece)
    return spans


def position_values(rewards: torch.Tensor, credit: str) -> torch.Tensor:
    """(completions x positions) step rewards -> the value each position is credited with."""
    if credit == "step":
        return rewards
    if credit == "return":
        return rewards.flip(1).cumsum(1).flip(1)
    raise ValueError(f"credit must be one of {CREDITS}, got {credit!r}")


def step_advantages(rewards: torch.Tensor, group: int, credit: str = "step") -> torch.Tensor:
    """Per-position advantages: the credited value minus its mean over the completions of the same prompt."""
    values = position_values(rewards, credit)
    grouped = values.view(-1, group, values.shape[1])
    return (grouped - grouped.mean(dim=1, keepdim=True)).view_as(values)


def token_positions(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[list[int]]:
    """Per token, the positions whose character span it covers. An empty span (start == end: the completion ended
    before that position) goes to the first token at or after it -- the end token -- or to the last token when the
    completion was cut at its length limit."""
    out: list[list[int]] = [[] for _ in offsets]
    if not offsets:
        return out
    for p, (start, end) in enumerate(spans):
        if start == end:
            j = next((j for j, (a, _) in enumerate(offsets) if a >= start), len(offsets) - 1)
            out[j].append(p)
            continue
        for j, (a, b) in enumerate(offsets):
            if a < end and b > start:
                out[j].append(p)
    return out


def spread_to_tokens(advantages: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
    """(completions x positions) advantages onto (completions x tokens) through a (completions x tokens x positions)
    0/1 membership: a token's advantage is the sum over the positions it stands for (none: 0)."""
    return (membership.to(advantages.dtype) * advantages.unsqueeze(1)).sum(-1)


class StepAdvantageGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose advantages are per token, from the step rewards among its reward functions."""

    credit: str = "step"

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._step_batch = self._step_rewards(inputs, completion_ids_list)
        self._rewards_per_func = rewards_per_func
        return rewards_per_func

    def _step_functions(self) -> list[tuple[int, Any]]:
        return [(i, f) for i, f in enumerate(self.reward_funcs) if getattr(f, "granularity", "sequence") == "step"]

    def _step_rewards(self, inputs, completion_ids_list) -> tuple[torch.Tensor, list[list[list[int]]]]:
        """(completions x positions) weighted step rewards and, per completion token, the positions it stands for."""
        funcs = self._step_functions()
        weights = self.reward_weights.cpu().tolist()
        rewards, memberships = [], []
        for row, ids in zip(inputs, completion_ids_list, strict=True):
            pieces = token_pieces(self.processing_class, list(ids))  # decoded once: the offsets and the text
            offsets, text = token_offsets(self.processing_class, list(ids), pieces), "".join(pieces)
            total: list[float] | None = None
            members: list[list[int]] | None = None
            for i, func in funcs:
                spans = func.spans(text, row["item"])
                values = [weights[i] * r for _, _, r in spans]
                total = values if total is None else [a + b for a, b in zip(total, values, strict=True)]
                members = members or token_positions(offsets, [(a, b) for a, b, _ in spans])
            rewards.append(total)
            memberships.append(members)
        return torch.tensor(rewards, dtype=torch.float32), memberships

    def _sequence_advantages(self, device) -> torch.Tensor:
        """TRL's advantages from the sequence-granularity rewards alone (zero when there are none)."""
        step = {i for i, _ in self._step_functions()}
        columns = [i for i in range(len(self.reward_funcs)) if i not in step]
        rewards_per_func = self._rewards_per_func.to(device)
        if not columns:
            return torch.zeros(rewards_per_func.shape[0], device=device)
        weights = self.reward_weights.to(device)[columns]
        rewards = (rewards_per_func[:, columns] * weights).nansum(dim=1)
        grouped = rewards.view(-1, self.num_generations)
        advantages = (grouped - grouped.mean(dim=1, keepdim=True)).view(-1)
        if self.scale_rewards == "group":
            std = grouped.std(dim=1, keepdim=True).expand_as(grouped).reshape(-1)
            advantages = advantages / (std + 1e-4)
        elif self.scale_rewards == "batch" and rewards.numel() > 1:
            advantages = advantages / (rewards.std() + 1e-4)
        return advantages

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        device = out["completion_ids"].device
        rewards, memberships = self._step_batch
        width = out["completion_ids"].shape[1]
        membership = torch.zeros(len(memberships), width, rewards.shape[1])
        for b, row in enumerate(memberships):
            for j, positions in enumerate(row[:width]):
                membership[b, j, positions] = 1.0
        per_position = step_advantages(rewards, self.num_generations, self.credit)
        tokens = spread_to_tokens(per_position, membership).to(device)
        out["advantages"] = self._sequence_advantages(device).unsqueeze(1) + tokens
        mode = "train" if self.model.training else "eval"
        for p, mean in enumerate(rewards.mean(dim=0).tolist()):
            self._metrics[mode][f"rewards/step/position_{p + 1}"].append(mean)
        return out


__all__ = ["CREDITS", "StepAdvantageGRPOTrainer", "spread_to_tokens", "step_advantages", "token_offsets",
           "token_positions"]
