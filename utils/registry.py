"""A name -> object registry (fvcore style): a name, a dict, a decorator, a helpful error."""
from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from utils.errors import RegistryError

T = TypeVar("T")


def describe(obj: Any) -> str:
    """First line of an object's docstring (what `--list` commands show)."""
    return (obj.__doc__ or "").strip().splitlines()[0] if (obj.__doc__ or "").strip() else ""


class Registry:
    """Case- and underscore-insensitive registry. `suffix` (e.g. "Trainer") is optional in lookups.

    >>> TRAINERS = Registry("trainer", suffix="Trainer")
    >>> @TRAINERS.register
    ... class FooTrainer: ...
    >>> TRAINERS.get("foo") is TRAINERS.get("FOOtrainer")
    True
    """

    def __init__(self, name: str, suffix: str = "") -> None:
        self.name = name
        self.suffix = suffix.lower()
        self._objects: dict[str, Any] = {}
        self._display: dict[str, str] = {}

    def _key(self, name: str) -> str:
        # "ToyRegression", "toy_regression" and "toy-regression" are one name
        key = name.strip().lower().replace("_", "").replace("-", "")
        if self.suffix and key.endswith(self.suffix) and key != self.suffix:
            key = key[: -len(self.suffix)]
        return key

    def register(self, obj: T | None = None, *, name: str | None = None) -> T | Callable[[T], T]:
        """Register `obj` under `name` (default: its `__name__`). Usable bare or with `name=`."""

        def deco(o: T) -> T:
            display = name or o.__name__
            key = self._key(display)
            if key in self._objects:
                raise RegistryError(
                    f"{self.name} '{display}' is already registered (by {self._objects[key]!r}); "
                    "pick another name"
                )
            self._objects[key] = o
            self._display[key] = display
            return o

        return deco(obj) if obj is not None else deco

    def get(self, name: str) -> Any:
        key = self._key(name)
        if key in self._objects:
            return self._objects[key]
        close = difflib.get_close_matches(key, list(self._objects), n=1, cutoff=0.5)
        hint = f"; did you mean '{self._display[close[0]]}'?" if close else ""
        known = ", ".join(self.list()) or "(none)"
        raise RegistryError(f"unknown {self.name} '{name}'{hint} registered: {known}")

    def canonical(self, name: str) -> str:
        """The registered display name of `name` (raises like `get` when unknown)."""
        self.get(name)
        return self._display[self._key(name)]

    def list(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard `pattern` (case-insensitive)."""
        pat = pattern.lower()
        return sorted(
            d for k, d in self._display.items() if fnmatch.fnmatch(k, pat) or fnmatch.fnmatch(d.lower(), pat)
        )

    def items(self) -> list[tuple[str, Any]]:
        return [(self._display[k], self._objects[k]) for k in sorted(self._objects, key=self._display.get)]

    def __contains__(self, name: str) -> bool:
        return self._key(name) in self._objects

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._objects)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self.list()})"
