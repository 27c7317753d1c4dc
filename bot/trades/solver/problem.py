"""The ``snpd trades solve`` file format, read strictly, and the solution as the CLI prints it.

A file is ``{"haves": [{"id", "member", "item", "size", "condition", "accepts": [{"item", "size"}]?}],
"wants": [{"member", "item", "sizes": [...], "conditions": [...]?}]}``. Anything else (bad JSON, a
missing or unknown field, a number where a string belongs, an empty list, a duplicate have id, a want
by a member who offers nothing) raises :class:`ProblemError` naming the place, e.g.
``haves[3].size: field required``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.trades.solver.model import Accept, Have, TradeSolution, Want

Text = Annotated[str, Field(min_length=1, max_length=200)]
#: errors listed in one message; the rest are counted
SHOWN_ERRORS = 5


class ProblemError(ValueError):
    """A malformed problem file; the message says where and what."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Accept(_Strict):
    item: Text
    size: Text


class _Have(_Strict):
    id: Text
    member: Text
    item: Text
    size: Text
    condition: Text
    accepts: Annotated[list[_Accept], Field(min_length=1)] | None = None


class _Want(_Strict):
    member: Text
    item: Text
    sizes: Annotated[list[Text], Field(min_length=1)]
    conditions: Annotated[list[Text], Field(min_length=1)] | None = None


class _Problem(_Strict):
    haves: list[_Have]
    wants: list[_Want]


def load_problem(data: bytes | str) -> tuple[list[Have], list[Want]]:
    """Parse and check a problem file's text."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(f"not valid JSON: {exc}") from None
    try:
        problem = _Problem.model_validate(raw)
    except ValidationError as exc:
        raise ProblemError(_describe(exc)) from None
    seen: dict[str, int] = {}
    for position, have in enumerate(problem.haves):
        if have.id in seen:
            raise ProblemError(f"haves[{position}].id: {have.id!r} is already the id of haves[{seen[have.id]}]")
        seen[have.id] = position
    members = {have.member for have in problem.haves}
    for position, want in enumerate(problem.wants):
        if want.member not in members:
            raise ProblemError(
                f"wants[{position}].member: {want.member!r} has no haves "
                "(a want only counts for a member who offers something)"
            )
    haves = [
        Have(
            id=have.id,
            member=have.member,
            item=have.item,
            size=have.size,
            condition=have.condition,
            accepts=None if have.accepts is None else tuple(Accept(item=a.item, size=a.size) for a in have.accepts),
        )
        for have in problem.haves
    ]
    wants = [
        Want(
            member=want.member,
            item=want.item,
            sizes=tuple(want.sizes),
            conditions=None if want.conditions is None else tuple(want.conditions),
        )
        for want in problem.wants
    ]
    return haves, wants


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors(include_url=False):
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in detail["loc"]).lstrip(".")
        problems.append(f"{where or 'the file'}: {_message(detail)}")
    extra = len(problems) - SHOWN_ERRORS
    shown = "; ".join(problems[:SHOWN_ERRORS])
    return shown + (f"; and {extra} more" if extra > 0 else "")


def _message(detail: Any) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_type":
        return "must be a string"
    if kind == "list_type":
        return "must be a list"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "must be an object"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return "must list at least one entry (leave the field out instead)"
    return str(detail["msg"]).lower()


def solution_to_json(solution: TradeSolution) -> dict[str, Any]:
    """``{"items_traded", "members_trading", "cycles": [[{"have", "from", "to"}]], "seconds"}``."""
    return {
        "items_traded": solution.items_traded,
        "members_trading": solution.members_trading,
        "cycles": [
            [{"have": step.have, "from": step.from_member, "to": step.to_member} for step in cycle]
            for cycle in solution.cycles
        ],
        "seconds": solution.seconds,
    }
