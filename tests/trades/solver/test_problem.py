"""The problem file: well-formed files load, malformed ones are refused with the place named."""

from __future__ import annotations

import orjson
import pytest

from bot.trades.solver import Accept, Have, ProblemError, Want, load_problem

GOOD = {
    "haves": [
        {"id": "h1", "member": "ana", "item": "Samba OG", "size": "9", "condition": "DS"},
        {
            "id": "h2",
            "member": "ben",
            "item": "Dunk Low Panda",
            "size": "10",
            "condition": "used",
            "accepts": [{"item": "Samba OG", "size": "9"}],
        },
    ],
    "wants": [
        {"member": "ana", "item": "Dunk Low Panda", "sizes": ["10", "10.5"]},
        {"member": "ben", "item": "Samba OG", "sizes": ["9"], "conditions": ["DS"]},
    ],
}


def with_change(path: str, value: object) -> bytes:
    """GOOD with the field at dotted ``path`` (list indices as numbers) set to ``value``, or removed if ``...``."""
    problem = orjson.loads(orjson.dumps(GOOD))
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    node = problem
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return orjson.dumps(problem)


def test_a_good_file_loads() -> None:
    haves, wants = load_problem(orjson.dumps(GOOD))
    assert haves == [
        Have("h1", "ana", "Samba OG", "9", "DS"),
        Have("h2", "ben", "Dunk Low Panda", "10", "used", accepts=(Accept("Samba OG", "9"),)),
    ]
    assert wants == [
        Want("ana", "Dunk Low Panda", ("10", "10.5")),
        Want("ben", "Samba OG", ("9",), ("DS",)),
    ]


def test_empty_lists_are_a_valid_empty_market() -> None:
    assert load_problem(b'{"haves": [], "wants": []}') == ([], [])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "the file: must be an object"),
        (b'{"haves": []}', "wants: field required"),
        (with_change("haves.1.size", ...), "haves[1].size: field required"),
        (with_change("haves.0.id", 7), "haves[0].id: must be a string"),
        (with_change("haves.0.colour", "red"), "haves[0].colour: unknown field"),
        (with_change("haves.0.member", ""), "haves[0].member: must not be empty"),
        (with_change("haves", {"id": "h1"}), "haves: must be a list"),
        (with_change("haves.1", "h2"), "haves[1]: must be an object"),
        (with_change("haves.1.accepts", []), "haves[1].accepts: must list at least one entry"),
        (with_change("haves.1.accepts.0.size", ...), "haves[1].accepts[0].size: field required"),
        (with_change("wants.0.sizes", []), "wants[0].sizes: must list at least one entry"),
        (with_change("wants.0.sizes", "10"), "wants[0].sizes: must be a list"),
        (with_change("wants.1.conditions", [None]), "wants[1].conditions[0]: must be a string"),
        (with_change("haves.1.id", "h1"), "haves[1].id: 'h1' is already the id of haves[0]"),
        (with_change("wants.1.member", "zoe"), "wants[1].member: 'zoe' has no haves"),
    ],
)
def test_malformed_files_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ProblemError) as caught:
        load_problem(data)
    assert message in str(caught.value)


def test_many_problems_are_summarised() -> None:
    problem = {"haves": [{"id": str(n)} for n in range(10)], "wants": []}
    with pytest.raises(ProblemError, match=r"haves\[0\]\.member: field required; .*; and \d+ more$"):
        load_problem(orjson.dumps(problem))
