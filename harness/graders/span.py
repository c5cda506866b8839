"""Where in a completion the final answer is: cheap string work before math-verify parses it.

math-verify scans the whole completion with a dozen regular expressions and, when no `\\boxed`
answer parses, tries every other formula from the right until one does. Two cuts are made
before it reads a completion:

- `hash_line_answer`: GSM8K's `#### N` last line is the answer (a grading rule, see its doc).
- `final_part`: for a completion whose last box is closed, the paragraphs from the one holding
  that box to the end. math-verify takes the matches of its first priority that has any (a
  closed box is one of them, so the tail has matches of that priority) and tries them from
  the rightmost end leftwards; every match in the tail ends to the right of every match before
  it, so when the tail yields a parsed value it is the value the whole completion would yield;
  when it yields none the caller parses the whole completion. The cut is not made where a
  match could straddle it (an open `$$` or `\\[`, a box in the paragraph just before, a
  "final answer" phrase near it).
"""

from __future__ import annotations

import re

_HASH_ANSWER = re.compile(r"^[ \t]*####[ \t]*(\S.*?)[ \t]*$")

_FINAL_ANSWER = re.compile(r"final answer", re.IGNORECASE)

LOOKBACK = 200
"""Characters before a cut searched for a "final answer" phrase (math-verify allows 100 after it)."""


def hash_line_answer(completion: str) -> str:
    """The completion, or N alone when there is no box and the last line is `#### N`.

    GSM8K-style completions end in a `#### N` line. math-verify knows no such anchor and reads
    an earlier "answer" phrase or `$...$` pair first ("express the answer as a percentage: ...
    #### 33" gives 33.333), so when there is no box and the last line is `#### N`, N alone is
    graded. Only the last line: a markdown "#### Step 2" heading mid-text is no answer.
    """
    if "\\boxed" in completion or "\\fbox" in completion:
        return completion
    lines = completion.rstrip().splitlines()
    match = _HASH_ANSWER.match(lines[-1]) if lines else None
    return match.group(1) if match else completion


def _open_display_math(head: str) -> bool:
    return head.count("$$") % 2 == 1 or head.count("\\[") > head.count("\\]")


def closing_brace(text: str, i: int) -> int | None:
    """The index of the `}` that closes the brace group text[i] opens; None if text[i] is no `{` or it never closes."""
    if not text.startswith("{", i):
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return None


def final_part(text: str) -> str:
    """The paragraphs of text from the one holding the last `\\boxed` to the end (see module doc).

    Returns text itself (the same object) when there is no box or no safe place to cut.
    """
    box = text.rfind("\\boxed")
    if box < 0 or closing_brace(text, box + len("\\boxed")) is None:
        # Without a closed last box the tail may hold no match of math-verify's first priority
        # while the text before it does (an earlier box), and priority outranks position.
        return text
    cut = text.rfind("\n\n", 0, box)
    while cut > 0:
        head = text[:cut]
        previous = head[head.rfind("\n\n") + 2 :] if "\n\n" in head else head
        straddles = (
            "\\boxed" in previous  # a set of boxes ("$\\boxed{1}$,\n\n$\\boxed{2}$") may span it
            or _open_display_math(head)
            or _FINAL_ANSWER.search(text, max(0, cut - LOOKBACK), cut + 2) is not None
        )
        if not straddles:
            return text[cut + 2 :]
        cut = head.rfind("\n\n")
    return text
