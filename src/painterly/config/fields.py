"""What a :class:`~painterly.Config` field takes: its kind, choices and range, how to
read it from a command-line word or a JSON/TOML value, and its checks.

``config.FIELDS`` holds one :class:`FieldSpec` per Config field, made from the field's
type annotation and its declaration; the command line, the studio's form and the
experiment grids derive their parsing and checks from it.
"""

from __future__ import annotations

import math
import numbers
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, did_you_mean

NUMBER, WHOLE, TEXT, FLAG, NUMBERS, NAMES = "number", "whole", "text", "flag", "numbers", "names"
LISTS = (NUMBERS, NAMES)
_KINDS: dict[type, tuple[str, str]] = {  # element type → (kind, list kind)
    float: (NUMBER, NUMBERS),
    int: (WHOLE, NUMBERS),
    str: (TEXT, NAMES),
    bool: (FLAG, FLAG),
}
_WORDS = {
    NUMBER: "a number",
    WHOLE: "a whole number",
    TEXT: "a string",
    FLAG: "true or false",
    NUMBERS: "a list of numbers",
    NAMES: "a list of strings",
}


@dataclass(frozen=True)
class Bounds:
    """A numeric range; ``open_low``/``open_high`` leave out the end itself."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    fix: str = ""  # what to try instead, e.g. "try 0.9"

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def words(self) -> str:
        """``"≥ 1"``, ``"> 0"``, ``"in [0, 1)"`` or ``"between 0 and 1"``."""
        low, high = _num(self.low), _num(self.high)
        if self.low is not None and self.high is not None:
            if not self.open_low and not self.open_high:
                return f"between {low} and {high}"
            return (
                f"in {'(' if self.open_low else '['}{low}, {high}{')' if self.open_high else ']'}"
            )
        if self.low is not None:
            return f"{'>' if self.open_low else '≥'} {low}"
        return f"{'<' if self.open_high else '≤'} {high}"


def _num(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""


@dataclass(frozen=True)
class FieldSpec:
    """One Config field: its kind (``number``, ``whole``, ``text``, ``flag``, ``numbers``
    or ``names``), help, choices (``or_file``: an existing file is accepted too), range
    (of each value, for lists), an extra check, and where it may be set."""

    name: str
    kind: str
    optional: bool
    help: str
    choices: tuple[str, ...] = ()
    or_file: bool = False
    bounds: Bounds | None = None
    check_item: Callable[[str], object] | None = None
    option: bool = True  # a command-line option
    studio: bool = False  # may be set from the studio's page

    @property
    def words(self) -> str:
        """What the field takes, in words ("a list of numbers")."""
        if self.kind == NAMES and self.name.endswith("layers"):
            return "a list of layer names"
        return _WORDS[self.kind]

    def parse(self, text: str) -> Any:
        """A command-line word → the value (lists: separated by commas or spaces)."""
        if self.kind in LISTS:
            words = [w for w in text.replace(",", " ").split() if w]
            if not words:
                raise ConfigError("{field}: give at least one value", self.name)
            if self.kind == NAMES:
                return tuple(words)
            return tuple(self._word(w, float, text) for w in words)
        if self.kind == NUMBER:
            return self._word(text, float, text)
        if self.kind == WHOLE:
            return self._word(text, int, text)
        if self.kind == FLAG:
            if text.lower() in ("true", "yes", "on", "1"):
                return True
            if text.lower() in ("false", "no", "off", "0"):
                return False
            raise ConfigError(f"{{field}} '{text}' is not {self.words}", self.name)
        return text

    def _word(self, word: str, kind: type, text: str) -> Any:
        try:
            return kind(word)
        except ValueError:
            raise ConfigError(f"{{field}} '{text}' is not {self.words}", self.name) from None

    def from_data(self, value: Any) -> Any:
        """A JSON/TOML value → the value (a list becomes a tuple, a single name a
        one-name list); raise naming what the field takes. Numbers keep their type."""
        if self.kind == NAMES and isinstance(value, str):
            value = [value]
        if not self.has_kind(value):
            raise ConfigError(
                f"{{field}} = {value!r} is a {type(value).__name__}: give {self.words}", self.name
            )
        return tuple(value) if isinstance(value, list) else value

    def has_kind(self, value: Any) -> bool:
        """Whether ``value`` (a list or tuple for list kinds) is of this field's kind."""
        if value is None:
            return self.optional
        if self.kind in LISTS:
            inner = NUMBER if self.kind == NUMBERS else TEXT
            return isinstance(value, list | tuple) and all(_is(inner, v) for v in value)
        return _is(self.kind, value)

    def check(self, value: Any) -> None:
        """Raise :class:`ConfigError` (naming this field) unless ``value`` is allowed."""
        if value is None and self.optional:
            return
        if not self.has_kind(value):
            raise ConfigError(f"{{field}} must be {self.words}, got {value!r}", self.name)
        for item in value if self.kind in LISTS else (value,):
            self._check_one(item)

    def _check_one(self, value: Any) -> None:
        if self.bounds is not None and not self.bounds.holds(value):
            fix = f": {self.bounds.fix}" if self.bounds.fix else ""
            numeric = self.kind in (NUMBER, NUMBERS) and self.bounds.high is None
            what = "a finite number " if numeric else ""
            raise ConfigError(
                f"{{field}} must be {what}{self.bounds.words()}, got {value}{fix}", self.name
            )
        if self.choices and value not in self.choices:
            if self.or_file and Path(value).is_file():
                return
            raise ConfigError(self._not_a_choice(value), self.name)
        if self.check_item is not None:
            try:
                self.check_item(value)
            except ConfigError as exc:
                raise ConfigError(exc.template, self.name) from None

    def _not_a_choice(self, value: str) -> str:
        if self.or_file:
            named = ", ".join(f"'{c}'" for c in self.choices)
            return f"{{field}} '{value}' is neither {named} nor an existing image file"
        hint = did_you_mean(value, self.choices)
        return f"{{field}} '{value}' is not one of {', '.join(self.choices)}.{hint}".rstrip(".")


def _is(kind: str, value: Any) -> bool:
    if kind == FLAG:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == NUMBER:  # NumPy's scalars too
        return isinstance(value, numbers.Real)
    if kind == WHOLE:
        return isinstance(value, numbers.Integral)
    return isinstance(value, str)


def kind_of(hint: Any) -> tuple[str, bool]:
    """A resolved type annotation → (kind, optional): ``tuple[float, ...] | None`` →
    ``("numbers", True)``."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        (hint,) = args
    if typing.get_origin(hint) is tuple:
        return _KINDS[typing.get_args(hint)[0]][1], optional
    return _KINDS[hint][0], optional
