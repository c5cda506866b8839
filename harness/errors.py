"""Errors a user can fix: each names the file, the field and what is allowed."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A config file is wrong. The CLI prints it and exits with status 2, without a traceback."""

    def __init__(self, path: str | Path | None, field: str | None, message: str, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.field = field
        self.message = message
        self.line = line
        """1-based line in the file, when the problem sits on one (YAML syntax, duplicate keys, tags)."""
        at = f"{self.path}:{line}" if self.path is not None and line is not None else self.path
        where = ": ".join(p for p in (at, f"field '{field}'" if field else None) if p)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigErrors(ConfigError):
    """Several problems in one file, reported together so one edit can fix them all."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.path, first.field, first.message, first.line)
        self.args = ("\n".join(str(e) for e in errors),)
