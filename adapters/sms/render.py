"""Turn a neutral reply into SMS text that fits one or two segments.

An SMS segment holds 160 GSM-7 septets, or only 70 UCS-2 units once a single character is outside
the GSM 03.38 alphabet (one emoji is enough). Concatenated messages lose room to the UDH header:
153 septets or 67 units per part. So we first make the text GSM-7 where we can (curly quotes and
dashes to ASCII, accents the alphabet lacks to their base letter, emoji and other pictographs
dropped), then measure it the way the network will, and cut it with a note if it needs more than
two segments. Letters of other scripts are kept: a Cyrillic name is better in UCS-2 than lost.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.markup import to_plain
from core.replies import Reply

#: GSM 03.38 basic alphabet (one septet each); the escape code 0x1B is not a character
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: the extension table: each costs two septets (escape + code)
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_SEGMENTS = 2
TRIM_NOTE = "... (trimmed)"

_REPLACEMENTS = {
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "―": "-", "‒": "-", "−": "-", "‐": "-", "‑": "-",
    "…": "...", "•": "*", "·": "*", "●": "*", "▪": "*", "◦": "*",
    "→": "->", "⇒": "=>", "➜": "->", "➡": "->", "←": "<-", "↔": "<->",
    "×": "x", "÷": "/", "±": "+/-", "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~",
    "©": "(c)", "®": "(R)", "™": "(TM)", "\t": " ",
    "½": ".5", "¼": ".25", "¾": ".75", "⁄": "/",  # sizes: 10½ -> 10.5
}  # fmt: skip
#: categories dropped when not in the alphabet: pictographs and emoji (So, Sk), their joiners and
#: variation selectors (Cf, Mn, Me), controls and unassigned code points
_DROPPED_CATEGORIES = {"So", "Sk", "Cf", "Cc", "Cs", "Co", "Cn", "Mn", "Me"}
_SPACES = re.compile(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _is_gsm(char: str) -> bool:
    return char in GSM_BASIC or char in GSM_EXTENDED


def _gsm_char(char: str) -> str:
    """One character as GSM-7 text where possible; unchanged if it has no GSM form but is a letter."""
    if _is_gsm(char):
        return char
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    decomposed = unicodedata.normalize("NFKD", char).replace("⁄", "/")
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    if base and all(_is_gsm(c) for c in base):
        return base
    if category in _DROPPED_CATEGORIES:
        return ""
    return char


def to_gsm_text(text: str) -> str:
    """Normalise text for SMS: GSM-7 where possible, one space between words, no blank-line runs."""
    converted = "".join(_gsm_char(char) for char in text.replace("\r\n", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in converted.split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


@dataclass(frozen=True)
class Segmentation:
    encoding: str  # "GSM-7" or "UCS-2"
    parts: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.parts)


def _units(char: str, gsm: bool) -> int:
    if gsm:
        return 2 if char in GSM_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def segment(text: str) -> Segmentation:
    """Split text the way the network does. An escape pair or a surrogate pair never straddles a
    part boundary, so a part may end a unit short."""
    gsm = all(_is_gsm(char) for char in text)
    single, part = (GSM_SINGLE, GSM_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    encoding = "GSM-7" if gsm else "UCS-2"
    if sum(_units(char, gsm) for char in text) <= single:
        return Segmentation(encoding, (text,))
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        size = _units(char, gsm)
        if used + size > part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    if current:
        parts.append("".join(current))
    return Segmentation(encoding, tuple(parts))


def fit(text: str, max_segments: int = MAX_SEGMENTS) -> str:
    """The text, or its longest prefix that fits ``max_segments`` with the trim note, cut at a line
    or word break when one is close."""
    if segment(text).count <= max_segments:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits, by bisection: fitting is monotone in length
        middle = (low + high + 1) // 2
        if segment(text[:middle].rstrip() + TRIM_NOTE).count <= max_segments:
            low = middle
        else:
            high = middle - 1
    prefix = text[:low]
    breaks = [prefix.rfind("\n"), prefix.rfind(" ")]
    best = max(breaks)
    if best >= low - 25 and best > 0:
        prefix = prefix[:best]
    return prefix.rstrip() + TRIM_NOTE


def sms_text(text: str, max_segments: int = MAX_SEGMENTS) -> str:
    """Markup-free, GSM-7-preferring text cut to ``max_segments``."""
    return fit(to_gsm_text(to_plain(text)), max_segments)


def render_reply(reply: Reply, max_segments: int = MAX_SEGMENTS) -> str:
    """The reply as one SMS body: title, text, fields, link, footer (images and buttons can't travel)."""
    parts: list[str] = []
    if reply.title:
        parts.append(to_plain(reply.title))
    if reply.text:
        parts.append(to_plain(reply.text))
    parts.extend(f"{to_plain(field.name)}: {to_plain(field.value)}" for field in reply.fields)
    if reply.images:
        count = len(reply.images)
        parts.append(f"({count} photo{'s' if count != 1 else ''}, not sent by SMS)")
    parts.extend(f"(file {to_plain(item.name)} not sent by SMS)" for item in reply.files)
    if reply.url:
        parts.append(reply.url)
    if reply.footer:
        parts.append(to_plain(reply.footer))
    return fit(to_gsm_text("\n".join(parts)), max_segments)
