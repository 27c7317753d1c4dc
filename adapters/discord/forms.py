"""Guided commands on Discord: a slash command with a ``Guide``, sent with no options, opens a modal.

The modal is a form built from the command's declaration (``Command.guide``): one labelled text input
per guided parameter, the first five, since a modal holds no more. Labels come from parameter names and
placeholders from their descriptions, so the form says what ``/help`` says.

The form is stateless. Its ``custom_id`` names the command (``snpd-form:alerts add``) and each input's
``custom_id`` names a parameter, so a submit is understood from its payload alone: any process can
handle it, even one started after the modal was opened. discord.py would otherwise keep every open
modal in memory and drop a submit it does not remember, so the modal is stopped before it is sent,
which keeps it out of discord.py's store; submits arrive through ``on_interaction`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import discord

from core.commands import GUIDE_TITLE_LIMIT, Command, Param
from core.markup import clip

FORM_PREFIX = "snpd-form:"
#: Discord's limits for a modal: five top-level components, 45-character labels, 100-character
#: placeholders and custom ids, 4,000 characters per text input
MODAL_FIELDS = 5
LABEL_LIMIT = 45
PLACEHOLDER_LIMIT = 100
CUSTOM_ID_LIMIT = 100
INPUT_LIMIT = 4000
_TEXT_INPUT = 4
_ACTION_ROW = 1
_LABEL = 18


def form_params(command: Command) -> tuple[Param, ...]:
    """The parameters the form asks for: the guide's leading steps, as many as a modal holds."""
    chosen = command.guided[:MODAL_FIELDS]
    left_out = [p.name for p in command.guided[MODAL_FIELDS:] if p.required]
    if left_out:
        raise ValueError(f"/{command.name}: required `{left_out[0]}` is past the {MODAL_FIELDS} fields a modal holds")
    return chosen


def label_for(param: Param) -> str:
    """``max_price`` → ``Max price`` (Discord itself stars the required fields)."""
    return clip(param.name.replace("_", " ").capitalize(), LABEL_LIMIT)


def placeholder_for(param: Param) -> str:
    text = param.description
    if param.choices:
        text = f"{' or '.join(param.choices)}: {text}"
    return clip(text, PLACEHOLDER_LIMIT)


def modal_for(command: Command) -> discord.ui.Modal:
    """The form for ``command``, ready for ``send_modal`` and already stopped (see module doc)."""
    if command.guide is None:
        raise ValueError(f"/{command.name} has no guide")
    custom_id = FORM_PREFIX + command.name
    if len(custom_id) > CUSTOM_ID_LIMIT:
        raise ValueError(f"/{command.name}: the name is too long for a form id")
    modal = discord.ui.Modal(title=clip(command.guide.title, GUIDE_TITLE_LIMIT), custom_id=custom_id, timeout=None)
    for param in form_params(command):
        limit = min(param.max_length or INPUT_LIMIT, INPUT_LIMIT)
        field: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id=param.name,
            placeholder=placeholder_for(param),
            required=param.required,
            max_length=limit,
            style=discord.TextStyle.short,
        )
        modal.add_item(discord.ui.Label(text=label_for(param), component=field))
    modal.stop()
    return modal


def form_submission(interaction: discord.Interaction[Any]) -> tuple[str, dict[str, str]] | None:
    """``(command name, raw values)`` if this interaction is one of our forms being submitted.

    Empty inputs are left out, exactly as an omitted slash-command option would be.
    """
    if interaction.type is not discord.InteractionType.modal_submit or not interaction.data:
        return None
    custom_id = str(interaction.data.get("custom_id") or "")
    if not custom_id.startswith(FORM_PREFIX):
        return None
    raw = {
        name: value.strip()
        for name, value in _inputs(interaction.data.get("components") or [])
        if value.strip()
    }
    return custom_id.removeprefix(FORM_PREFIX), raw


def _inputs(components: Any) -> Iterator[tuple[str, str]]:
    """Every text input in a submit, in rows (type 1) or labels (type 18) as Discord may send them."""
    for component in components:
        if not isinstance(component, Mapping):
            continue
        kind = component.get("type")
        if kind == _ACTION_ROW:
            yield from _inputs(component.get("components") or [])
        elif kind == _LABEL:
            yield from _inputs([component.get("component") or {}])
        elif kind == _TEXT_INPUT and component.get("custom_id"):
            yield str(component["custom_id"]), str(component.get("value") or "")
