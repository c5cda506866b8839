"""Names users choose (submissions, tracks, studies): a short identifier-like string, and numbers that are numbers.

A name becomes a folder, a leaderboard row, a page title and a CSV cell, so it is held to one rule,
stated in every refusal (NAME_RULE): 1 to 64 characters from ASCII letters, digits, "_", "-" and ".",
starting with a letter or a digit, not ending with ".". No path separator, "..", space, control character, bidirectional
override or look-alike Unicode can pass, so a name cannot climb out of the runs or cache roots even
before `harness.paths` escapes it, and two names that look alike are the same name.

`base` is the name of the track's reference entry (the base model, method `base`); another method
under that name would shift every delta on the leaderboard, so SubmissionConfig refuses it.

`reject_bool` keeps `true`/`false` out of number fields: pydantic would read `learning_rate: true` as 1.0.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

NAME_MAX = 64
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
NAME_CHARS = _ALNUM | frozenset("_.-")
NAME_RULE = (f"a name is 1 to {NAME_MAX} characters from ASCII letters, digits, '_', '-' and '.', starting with a "
             "letter or a digit and not ending with '.' (e.g. sft-lr-small)")
RESERVED_BASE = "base"
"""The reference entry's name: only method `base` may use it (in any letter case, so `Base` cannot pose as it)."""


def check_name(value: str) -> str:
    """`value` if it follows NAME_RULE, else a ValueError that states the rule."""
    # a trailing "." would not be its own folder name (harness.paths escapes it: some file systems drop it)
    if not (0 < len(value) <= NAME_MAX and value[0] in _ALNUM and set(value) <= NAME_CHARS and value[-1] != "."):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise ValueError(f"{shown!r} is not a valid name: {NAME_RULE}")
    return value


Name = Annotated[str, AfterValidator(check_name)]
"""A submission, track or study name (NAME_RULE)."""


def is_number_annotation(annotation: Any) -> bool:
    """Whether a field's type admits int or float (alone, optional, or as list/dict values) but not bool."""
    if annotation in (int, float):
        return True
    args = getattr(annotation, "__args__", None) or ()
    return any(a is not bool and is_number_annotation(a) for a in args)


def reject_bool(value: Any, annotation: Any) -> Any:
    """A ValueError when `value` holds a YAML boolean where the field takes numbers (true would read as 1)."""
    if annotation is bool or not is_number_annotation(annotation):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(v, bool) for v in items):
        raise ValueError(f"a number is required, not a boolean (got {value!r})")
    return value
