"""The scene's commands: /location, /plug, /spot, /spotted, /sighting confirm and /heatmap."""

from __future__ import annotations

from bot.scene.commands import heatmap, location, plug, spot
from core.commands import Command


def all_commands() -> list[Command]:
    return [*location.COMMANDS, *plug.COMMANDS, *spot.COMMANDS, *heatmap.COMMANDS]
