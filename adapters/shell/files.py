"""Files sent with a shell command: local paths after ``--attach`` at the end of the line.

``/lc submit jordan 4 10 --attach ./left.jpg ~/Pictures/"box label.jpg"`` runs ``/lc submit jordan 4
10`` with the two files attached, exactly as photos sent with the command on Discord or Telegram.
Paths may be quoted, ``~`` is expanded and relative paths start from the shell's working directory.
Every path must be an existing file; a missing one stops the line before it runs. The files are read
only when the command reads them, and never past its byte limit.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.attachments import MAX_ATTACHMENTS, Attachment
from core.errors import UserError
from core.registry import split_words

ATTACH = "--attach"
_ATTACH = re.compile(rf"(?:^|\s){ATTACH}(?=\s|$)")


def split_attachments(line: str, *, cwd: Path | None = None) -> tuple[str, list[Attachment]]:
    """The command line without its ``--attach`` tail, and the files the tail names."""
    found = _ATTACH.search(line)
    if found is None:
        return line, []
    head, tail = line[: found.start()], line[found.end() :]
    if not tail.strip():
        raise UserError(f"`{ATTACH}` needs at least one file path after it.")
    paths = split_words(tail)
    if len(paths) > MAX_ATTACHMENTS:
        raise UserError(f"At most {MAX_ATTACHMENTS} files per command, got {len(paths)}.")
    return head.rstrip(), [_file(path, cwd or Path.cwd()) for path in paths]


def _file(given: str, cwd: Path) -> Attachment:
    path = Path(given).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.exists():
        raise UserError(f"No such file: `{given}`.")
    if not path.is_file():
        raise UserError(f"Not a file: `{given}`.")
    return Attachment.from_path(path)
