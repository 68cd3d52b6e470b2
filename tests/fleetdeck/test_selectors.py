"""The selector grammar: parsing, matching, and the sentences for bad selectors."""

from __future__ import annotations

import pytest

from fleetdeck import selectors

WEB_BER = {"role": "web", "site": "ber", "canary": "true"}
DB_FRA = {"role": "db", "site": "fra"}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", WEB_BER, True),
        ("", {}, True),
        ("role=web", WEB_BER, True),
        ("role=web", DB_FRA, False),
        ("role=web,site!=fra", WEB_BER, True),
        ("role=web,site!=fra", {"role": "web", "site": "fra"}, False),
        ("site!=fra", {}, True),  # a missing label is not equal to anything
        ("canary", WEB_BER, True),
        ("canary", DB_FRA, False),
        ("!canary", DB_FRA, True),
        ("!canary", WEB_BER, False),
        (" role = web , canary ", WEB_BER, True),
        ("role=web,role=db", WEB_BER, False),
    ],
)
def test_selector_matches_labels(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert selectors.parse(selector).matches(labels) is expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("role=", "has no value after '='"),
        ("=web", "has no label key before '='"),
        ("role==web", "use key=value, not key==value"),
        ("role=web,,site=fra", "has an empty term"),
        ("role=web,", "has an empty term"),
        ("ro le=web", "label key 'ro le' is not valid"),
        ("role=we b", "value 'we b' is not valid"),
        ("!", "label key '' is not valid"),
        ("site!=", "has no value after '!='"),
    ],
)
def test_bad_selector_says_what_to_fix(selector: str, message: str) -> None:
    with pytest.raises(selectors.SelectorError, match=message.replace("(", r"\(")):
        selectors.parse(selector)


@pytest.mark.parametrize("selector", ["role=web", "role=web,site!=fra", "canary", "!canary,role=db"])
def test_selector_prints_as_parsed(selector: str) -> None:
    assert str(selectors.parse(selector)) == selector


@pytest.mark.parametrize(
    ("declared", "overrides", "expected"),
    [
        ({"role": "web"}, {}, {"role": "web"}),
        ({"role": "web"}, {"role": "db"}, {"role": "db"}),
        ({"role": "web", "canary": "true"}, {"canary": ""}, {"role": "web"}),
        ({}, {"site": "fra"}, {"site": "fra"}),
    ],
)
def test_overrides_win_and_empty_values_remove(
    declared: dict[str, str], overrides: dict[str, str], expected: dict[str, str]
) -> None:
    assert selectors.effective_labels(declared, overrides) == expected


def test_labels_are_checked_like_selectors() -> None:
    assert selectors.check_labels({"canary": ""}, allow_empty_values=True) == {"canary": ""}
    with pytest.raises(selectors.SelectorError, match="value '' is not valid"):
        selectors.check_labels({"canary": ""})
