"""Label selectors: `role=web,site!=fra`, `canary` (has the label), `!canary` (lacks it).

A selector is a comma-separated list of terms, all of which must hold (AND). The empty selector
matches every host. Shared by the control plane, the CLI and the web UI: one grammar everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Label keys and values: letters, digits, '.', '_', '-' and '/' (keys), at most 63 characters.
_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$")
_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")

Op = Literal["=", "!=", "exists", "absent"]


class SelectorError(ValueError):
    """A selector or label that does not follow the grammar; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Term:
    """One condition on one label."""

    key: str
    op: Op
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a host with these labels satisfies the term."""
        if self.op == "exists":
            return self.key in labels
        if self.op == "absent":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "absent":
            return f"!{self.key}"
        return f"{self.key}{self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Terms that must all hold; no terms selects every host."""

    terms: tuple[Term, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a host with these labels is selected."""
        return all(term.matches(labels) for term in self.terms)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def check_key(key: str) -> str:
    """A valid label key, or SelectorError saying why not."""
    if not _KEY.match(key):
        raise SelectorError(
            f"label key {key!r} is not valid: use 1 to 63 letters, digits, '.', '_', '-' or '/', "
            "starting and ending with a letter or digit"
        )
    return key


def check_value(key: str, value: str) -> str:
    """A valid label value, or SelectorError saying why not."""
    if not _VALUE.match(value):
        raise SelectorError(
            f"label {key}: value {value!r} is not valid: use 1 to 63 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _term(text: str, selector: str) -> Term:
    if not text:
        raise SelectorError(f"selector {selector!r} has an empty term; separate terms with single commas")
    if "!=" in text:
        key, _, value = text.partition("!=")
        op: Op = "!="
    elif "=" in text:
        key, _, value = text.partition("=")
        op = "="
        if value.startswith("="):
            raise SelectorError(f"selector term {text!r}: use key=value, not key==value")
    elif text.startswith("!"):
        return Term(check_key(text[1:]), "absent")
    else:
        return Term(check_key(text), "exists")
    key, value = key.strip(), value.strip()
    if not key:
        raise SelectorError(f"selector term {text!r} has no label key before {op!r}")
    if not value:
        raise SelectorError(
            f"selector term {text!r} has no value after {op!r}; to ask for a label's presence, "
            f"write just {key!r} (or {'!' + key!r} for its absence)"
        )
    return Term(check_key(key), op, check_value(key, value))


def parse(selector: str) -> Selector:
    """Parse `role=web,site!=fra,canary,!draining`; SelectorError for anything else."""
    text = selector.strip()
    if not text:
        return Selector()
    terms = tuple(_term(part.strip(), selector) for part in text.split(","))
    return Selector(terms)


def check_labels(labels: Mapping[str, str], *, allow_empty_values: bool = False) -> dict[str, str]:
    """Labels whose keys and values follow the grammar (empty values only where they remove a label)."""
    checked: dict[str, str] = {}
    for key, value in labels.items():
        check_key(key)
        if not (allow_empty_values and value == ""):
            check_value(key, value)
        checked[key] = value
    return checked


def effective_labels(declared: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Declared labels with the API's overrides applied (an empty override removes the label)."""
    labels = dict(declared)
    for key, value in overrides.items():
        if value:
            labels[key] = value
        else:
            labels.pop(key, None)
    return dict(sorted(labels.items()))
