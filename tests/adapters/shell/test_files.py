"""Files sent with a shell command: ``--attach`` paths, checked before the line runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.shell.files import split_attachments
from adapters.shell.frontend import render_text
from core.attachments import Attachment
from core.commands import Command, Param, ParamType
from core.context import Context
from core.engine import Engine
from core.errors import UserError
from core.replies import Reply
from tests.adapters.shell.console import Console


async def _check(ctx: Context, pair: str, photos: list[Attachment]) -> Reply:
    sizes = [len(await photo.read(100)) for photo in photos]
    return Reply(text=f"{pair}: " + ", ".join(f"{p.filename} {n}" for p, n in zip(photos, sizes, strict=True)))


CHECK = Command(
    "tcheck", "test", _check, params=(Param("pair", "pair"), Param("photos", "x", type=ParamType.ATTACHMENTS))
)


@pytest.fixture
def console(sqlite_engine: Engine) -> Console:
    sqlite_engine.registry.add(CHECK)
    return Console(sqlite_engine)


async def test_paths_after_attach_go_with_the_command(console: Console, tmp_path: Path) -> None:
    (tmp_path / "left.jpg").write_bytes(b"12345")
    spaced = tmp_path / "box label.png"
    spaced.write_bytes(b"123")
    answer = await console.say(f'/tcheck jordan 4 --attach {tmp_path}/left.jpg "{spaced}"')
    assert answer == "jordan 4: left.jpg 5, box label.png 3"


async def test_a_missing_file_stops_the_line(console: Console, tmp_path: Path) -> None:
    answer = await console.say(f"/tcheck jordan --attach {tmp_path}/nope.jpg")
    assert "No such file" in answer and "nope.jpg" in answer
    assert "--attach needs at least one file path" in await console.say("/tcheck jordan --attach")
    assert "photos: attach the files" in await console.say("/tcheck jordan")
    assert "Not a file" in await console.say(f"/tcheck jordan --attach {tmp_path}")


def test_split_attachments_keeps_lookalike_words(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"a")
    line, files = split_attachments("/note --attachments are words --attach a.jpg", cwd=tmp_path)
    assert line == "/note --attachments are words" and [f.filename for f in files] == ["a.jpg"]
    assert split_attachments("/ping", cwd=tmp_path) == ("/ping", [])
    with pytest.raises(UserError, match="At most 10 files"):
        split_attachments("/x --attach " + " ".join(["a.jpg"] * 11), cwd=tmp_path)


def test_photos_in_a_reply_are_counted() -> None:
    shown = render_text(Reply(text="Legit check #4", images=[("a.jpg", b"1"), ("b.jpg", b"2")]))
    assert shown == "Legit check #4\n  [2 photos] a.jpg, b.jpg"
