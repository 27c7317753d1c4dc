"""Our portable markup parses the same way for every renderer: Telegram gets well-nested HTML whatever
stray stars or backticks a member typed, Discord gets its markdown with member text escaped, so a
masked link in a report or a product title is shown as text, never as a link the bot posted."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from adapters.discord.render import build_embed, render
from core.markup import escape, to_html, to_plain
from core.replies import Reply

MASKED_LINK = "[free pairs](https://evil.example/login)"


class _Nesting(HTMLParser):
    """Fails on a closing tag that doesn't match the innermost open one (what Telegram rejects)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


def well_nested(markup: str) -> bool:
    parser = _Nesting()
    parser.feed(markup)
    return parser.ok and not parser.stack


@given(st.text(alphabet="ab *`\\<>&\n", max_size=40))
def test_any_text_becomes_well_nested_telegram_html(text: str) -> None:
    assert well_nested(to_html(text))
    assert well_nested(to_html(f"**{escape(text)}** and `{escape(text)}`"))


@given(st.text(max_size=60))
def test_escaped_member_text_reads_back_unchanged(text: str) -> None:
    assert to_plain(escape(text)) == text
    if text:  # an empty ``****`` is four stars, not empty bold
        assert to_plain(f"**{escape(text)}**") == text


def test_stars_and_backticks_that_used_to_misnest() -> None:
    assert to_html("**a `b** c`") == "**a <code>b** c</code>"
    assert to_html("**Nike** `x` 5* rating") == "<b>Nike</b> <code>x</code> 5* rating"


def test_a_masked_link_from_a_member_is_text_on_discord() -> None:
    reply = Reply(title=f"📣 Restock reported: {escape(MASKED_LINK)}", text=f"**sam** saw **{escape(MASKED_LINK)}**")
    embed = build_embed(reply)
    assert embed.title is not None and "\\[free pairs]" in embed.title
    assert embed.description == "**sam** saw **\\[free pairs](https://evil.example/login)**"
    plain = render(Reply(text=MASKED_LINK))
    assert plain.content == "\\[free pairs](https://evil.example/login)"
    assert render(Reply(text="# big ||spoiler|| > quote")).content == "\\# big \\|\\|spoiler\\|\\| > quote"
