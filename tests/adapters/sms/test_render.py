"""SMS rendering: GSM-7 where possible, measured as the network measures, never past two segments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sms.render import (
    GSM_BASIC,
    GSM_EXTENDED,
    TRIM_NOTE,
    fit,
    render_reply,
    segment,
    sms_text,
    to_gsm_text,
)
from core.replies import Reply, ReplyField
from tests.fakes.twilio_api import count_segments


def test_alphabet_sizes() -> None:
    assert len(GSM_BASIC) == 127  # 128 codes minus the escape
    assert len(GSM_EXTENDED) == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("🏓 Pong", "Pong"),
        ("⚠️ Not done", "Not done"),
        ("“Jordan 4” — ‘Bred’…", "\"Jordan 4\" - 'Bred'..."),
        ("naïve façade Ångström", "naive facade Ångström"),
        ("Air Max 90 → $120 • size 10½", "Air Max 90 -> $120 * size 10.5"),
        ("⅓ off", "1/3 off"),
        ("👍🏽 #️⃣ ok", "# ok"),
        ("a\u00a0b\u2009c\td", "a b c d"),
        ("line 1\n\n\n\nline 2\n", "line 1\n\nline 2"),
    ],
)
def test_to_gsm_text(raw: str, expected: str) -> None:
    assert to_gsm_text(raw) == expected


def test_other_scripts_are_kept_and_cost_ucs2() -> None:
    text = to_gsm_text("Привет 👋")
    assert text == "Привет"
    assert segment(text).encoding == "UCS-2"


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # 160 septets: the euro is an escape pair
        ("€" * 81, "GSM-7", 2),
        ("Ж" * 70, "UCS-2", 1),
        ("Ж" * 71, "UCS-2", 2),
        ("Ж" * 134, "UCS-2", 2),
        ("Ж" * 135, "UCS-2", 3),
    ],
)
def test_segment_boundaries(text: str, encoding: str, parts: int) -> None:
    measured = segment(text)
    assert (measured.encoding, measured.count) == (encoding, parts)
    assert count_segments(text) == (encoding, parts)


def test_escape_pair_never_straddles_a_part() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = segment(text).parts
    assert parts[0] == "a" * 152 and parts[1].startswith("€")


def test_fit_trims_at_a_word_with_a_note() -> None:
    text = " ".join(f"word{i}" for i in range(100))
    fitted = fit(text)
    assert fitted.endswith(TRIM_NOTE)
    assert segment(fitted).count == 2
    kept = fitted.removesuffix(TRIM_NOTE)
    assert text.startswith(kept) and text[len(kept)] == " "
    assert len(fitted) > 280  # cut near the limit, not far before it


def test_short_text_is_untouched() -> None:
    assert fit("PING ok") == "PING ok"


def test_render_reply_is_plain_and_ordered() -> None:
    reply = Reply(
        title="👤 **sam**",
        text="Balance `120` LACES",
        fields=[ReplyField(name="Rank", value="#3")],
        url="https://example.test/x",
        footer="Text HELP",
    )
    assert render_reply(reply) == "sam\nBalance 120 LACES\nRank: #3\nhttps://example.test/x\nText HELP"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=800))
def test_anything_fits_two_segments(raw: str) -> None:
    body = sms_text(raw)
    assert segment(body).count <= 2
    assert count_segments(body)[1] <= 2


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="`\t\x1b"), max_size=600))
def test_ascii_stays_gsm(raw: str) -> None:
    body = sms_text(raw)
    assert segment(body).encoding == "GSM-7" or body == ""
