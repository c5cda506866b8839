"""TEMPORARY bridge to the light methods-registry interface (branch `losses`); delete it at that merge.

`harness.submissions` needs only this from the methods: `MethodSpec`, `method_names`, `method_spec`,
`unknown_method_message` and `config_class` (whose classes have `parse(hyperparameters, path)`).
Once `harness.methods` exposes them (lazily, importing no torch), they are used as they are; until
then this module builds them from the eager `METHODS` registry. At the merge: replace
`harness.methods_interface` by `harness.methods` in harness/submissions.py and delete this file.
"""

from __future__ import annotations

try:
    from harness.methods import MethodSpec, config_class, method_names, method_spec, unknown_method_message
except ImportError:  # the eager registry of this branch
    import difflib
    from dataclasses import dataclass
    from functools import cache
    from pathlib import Path
    from typing import Any

    from pydantic import BaseModel

    @dataclass(frozen=True)
    class MethodSpec:  # type: ignore[no-redef]
        name: str
        config: str
        impl: str
        summary: str
        trains: bool
        uses_sft_data: bool

    def _methods():
        from harness.methods import METHODS

        return METHODS

    def method_names() -> list[str]:  # type: ignore[no-redef]
        return _methods().names()

    def unknown_method_message(name: str) -> str:  # type: ignore[no-redef]
        return _methods().unknown_message(name)

    def method_spec(name: str) -> MethodSpec:  # type: ignore[no-redef]
        method = _methods().get(name)
        cls, impl = method.config_class, type(method)
        return MethodSpec(name, f"{cls.__module__}:{cls.__qualname__}", f"{impl.__module__}:{impl.__qualname__}",
                          (impl.__doc__ or "").strip().split("\n")[0], method.trains, method.uses_sft_data)

    @cache
    def config_class(name: str) -> type[BaseModel]:  # type: ignore[no-redef]
        method = _methods().get(name)

        class WithParse(method.config_class):  # the interface's MethodConfig.parse
            @classmethod
            def parse(cls, hyperparameters: dict[str, Any], path: str | Path = "<submission>") -> BaseModel:
                return method.parse_config(hyperparameters, path)

        WithParse.__name__ = WithParse.__qualname__ = method.config_class.__name__
        return WithParse

__all__ = ["MethodSpec", "config_class", "method_names", "method_spec", "unknown_method_message"]
