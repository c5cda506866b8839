"""A thin name -> object registry for tasks and methods (lm-eval style).

A registry finds things; it does not assemble them. An entry is either the object itself or a
"module:attr" string that is imported on the first `get` and kept, so listing and checking names
never imports the (possibly heavy) module behind them. Unknown names raise a KeyError that lists
near matches, so a typo in a YAML file points at the fix.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def resolve(target: str) -> object:
    """The object a "package.module:attr" string names (attr may be dotted: "module:Class.attr")."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{target!r} is not a 'module:attr' reference")
    obj: object = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> "module:attr", until the first get imports it

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            self._claim(name)
            self._items[name] = obj
            return obj

        return add

    def register_lazy(self, name: str, target: str) -> None:
        """Register the object that `target` ("module:attr") names, importing it only when first asked for."""
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: {target!r} is not a 'module:attr' reference")
        self._claim(name)
        self._lazy[name] = target

    def _claim(self, name: str) -> None:
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered twice")

    def get(self, name: str) -> T:
        if name in self._lazy:
            self._items[name] = resolve(self._lazy[name])  # type: ignore[assignment]
            del self._lazy[name]
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(self.unknown_message(name)) from None

    def unregister(self, name: str) -> None:
        """Forget `name` (a plugin or a test that registered something for a while)."""
        self._items.pop(name, None)
        self._lazy.pop(name, None)

    def unknown_message(self, name: str) -> str:
        near = difflib.get_close_matches(name, self.names(), n=3)
        hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
        return f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}"

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        return sorted({*self._items, *self._lazy})
