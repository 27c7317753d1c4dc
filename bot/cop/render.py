"""The Cop Simulator's replies: drop posts, each checkout step and the results.

Pair names come from the catalog or a member and are escaped; buttons carry ``/cop …`` lines that
the server checks again whatever the client sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.cop.models import (
    CARTED,
    CONFIRM,
    DONE,
    GROUP,
    LATE,
    OPEN,
    PRACTICED,
    SCHEDULED,
    SIZED,
    SOLD_OUT,
    VOID,
    WON,
    CopDrop,
    CopEntry,
)
from bot.cop.pairs import size_label
from bot.cop.timing import clock_text, seconds_text, when
from bot.cop.undelivered import DELIVERED, FAILED, REFUSED_DM, Undelivered
from core.markup import escape
from core.replies import Button, Reply, ReplyField

if TYPE_CHECKING:
    from bot.cop.service import Checkout, Step

LIVE_COLOR = 0xE67E22
WIN_COLOR = 0x2ECC71
STEPS = "pick a size, **Add to cart**, **Checkout**, then type the code you're shown"


def _pair(drop: CopDrop) -> str:
    return escape(drop.pair)


def live(drop: CopDrop) -> Reply:
    """The drop message: size buttons, the clock running from the moment it is sent."""
    if drop.kind == GROUP:
        text = (
            f"{drop.stock} {'pair' if drop.stock == 1 else 'pairs'}: the first {drop.stock} confirmed checkouts win. "
            f"Steps: {STEPS}."
        )
        footer = f"Cop drop #{drop.id} · closes at {clock_text(drop.closes_at)} UTC"
    else:
        text = f"Practice drop #{drop.id} is live. Your time runs from this message: {STEPS}."
        footer = f"Practice · closes at {clock_text(drop.closes_at)} UTC"
    buttons = [Button(label=size_label(size), action=f"/cop size {drop.id} {size}") for size in drop.sizes]
    return Reply(title=f"🔥 LIVE: {_pair(drop)}", text=text, buttons=buttons, footer=footer, color=LIVE_COLOR)


def armed(drop: CopDrop, low_s: float, high_s: float, missed: Undelivered | None = None) -> Reply:
    """The answer to ``/cop practice``; ``missed`` is the run before it, if its message never arrived."""
    text = (
        f"Countdown started. The drop opens at a random moment between {low_s:g} s and {high_s:g} s from now "
        f"and arrives {'in your DMs' if drop.channel == 'discord' else 'here'} as a message with size buttons. "
        f"Then {STEPS}."
    )
    return Reply(
        title=f"⏳ Practice drop #{drop.id}: {_pair(drop)}",
        text=text if missed is None else f"⚠️ {undelivered(missed)}\n\n{text}",
        footer="Your time is measured on the server, from the moment the drop message is sent.",
        ephemeral=True,
    )


def undelivered(missed: Undelivered) -> str:
    """Why a practice drop never came, and what the member can do about it on that platform."""
    number = f"practice drop #{missed.drop.id}"
    if not missed.refused:
        return f"I couldn't get {number} to you: sending kept failing, so I gave up and closed it. Try again."
    if missed.drop.channel == "discord":
        return (
            f"I couldn't DM you {number}: Discord refused it, so it's closed. Open your DMs from server members "
            "(this server's name → Privacy Settings → Direct Messages) so the drop can reach you."
        )
    if missed.drop.channel == "telegram":
        return (
            f"I couldn't message you {number}: Telegram refused it (is the bot blocked?), so it's closed. "
            "Unblock the bot or press Start in its chat so the drop can reach you."
        )
    return f"I couldn't send you {number}: it was refused, so it's closed."


def practice_status(drop: CopDrop, entry: CopEntry | None, delivery: str, zone: str) -> Reply:
    """``/cop status``: where the member's latest practice run stands, and why when it went nowhere."""
    if entry is not None and entry.step == DONE:
        line = f"Checked out: {outcome_text(entry)}."
    elif entry is not None and entry.step == VOID:
        line = "Your entry was void (too many wrong codes)."
    elif delivery in (REFUSED_DM, FAILED):
        line = undelivered(Undelivered(drop, refused=delivery == REFUSED_DM))
    elif drop.status == SCHEDULED:
        line = "Counting down: the drop opens at a random moment, any time now."
    elif drop.status == OPEN and entry is not None:
        line = (
            f"Live, and you're in it ({size_label(entry.size)}, step: {entry.step}). "
            f"It closes {when(drop.closes_at, zone)}."
        )
    elif drop.status == OPEN:
        where = "in your DMs" if drop.channel == "discord" else "in our private chat"
        sent = "is " + where if delivery == DELIVERED else "is on its way"
        line = f"Live: the drop message {sent}. It closes {when(drop.closes_at, zone)}."
    else:
        line = f"Closed {when(drop.closed_at or drop.closes_at, zone)} without a checkout."
    return Reply(
        title=f"🏃 Practice drop #{drop.id}: {_pair(drop)}",
        text=line,
        footer="Start another with /cop practice",
        ephemeral=True,
    )


def announcement(drop: CopDrop) -> Reply:
    return Reply(
        title=f"⏰ Cop drop #{drop.id}: {_pair(drop)}",
        text=(
            f"Opens **{when(drop.opens_at)}** with {drop.stock} "
            f"{'pair' if drop.stock == 1 else 'pairs'}. The first {drop.stock} confirmed checkouts win. "
            f"When it opens: {STEPS}."
        ),
        footer="One entry per member. Winners earn LACES; the month's results decide the tournament.",
    )


def cancelled(drop: CopDrop) -> Reply:
    return Reply(title=f"❌ Cop drop #{drop.id} cancelled", text=f"{_pair(drop)} won't open.")


def results(
    drop: CopDrop,
    winners: Sequence[tuple[CopEntry, str]],
    entrants: int,
    earned: Mapping[int, int],
    currency: str,
) -> Reply:
    lines = []
    for entry, name in winners:
        bonus = f" · +{earned[entry.member_id]:,} {currency}" if entry.member_id in earned else ""
        time = seconds_text(entry.elapsed_ms or 0)
        lines.append(f"{entry.position}. {escape(name)} · {size_label(entry.size)} · {time}{bonus}")
    if drop.remaining == 0 and drop.closed_at is not None and drop.opened_at is not None:
        headline = f"Sold out in {seconds_text(round((drop.closed_at - drop.opened_at).total_seconds() * 1000))}."
    else:
        headline = f"Closed with {drop.remaining} of {drop.stock} pairs left."
    return Reply(
        title=f"🏁 Cop drop #{drop.id} results: {_pair(drop)}",
        text=f"{headline} {entrants} {'entrant' if entrants == 1 else 'entrants'}.",
        fields=[ReplyField(name="Winners", value="\n".join(lines) or "Nobody checked out.", inline=False)],
        color=WIN_COLOR,
    )


def step(result: Step) -> Reply:
    """Where the member stands after a press; a press that changed nothing says why."""
    drop, entry = result.drop, result.entry
    notes: list[str] = []
    if result.asked_size is not None:
        notes.append(f"One entry per member: you already picked {size_label(entry.size)} for this drop.")
    elif not result.moved:
        notes.append("That button is from a step you've already done; nothing changed.")
    title = f"🛒 Drop #{drop.id}: {_pair(drop)}"
    if entry.step == SIZED:
        body = f"{size_label(entry.size)} selected. Add it to your cart."
        buttons = [Button(label="Add to cart", action=f"/cop cart {drop.id}")]
    elif entry.step == CARTED:
        body = f"{size_label(entry.size)} is in your cart. Check out."
        buttons = [Button(label="Checkout", action=f"/cop checkout {drop.id}")]
    elif entry.step == CONFIRM:
        body = f"Confirm your order of {size_label(entry.size)}: type `/cop confirm {entry.code}`"
        buttons = []
    elif entry.step == DONE:
        body = f"You already checked out of this drop ({outcome_text(entry)})."
        buttons = []
    else:
        body = "Your entry in this drop is void (too many wrong codes)."
        buttons = []
    return Reply(title=title, text="\n".join([*notes, body]), buttons=buttons, ephemeral=True)


def outcome_text(entry: CopEntry) -> str:
    time = seconds_text(entry.elapsed_ms or 0)
    if entry.outcome == WON:
        return f"won, #{entry.position}, {time}"
    if entry.outcome == SOLD_OUT:
        return f"sold out before your checkout, {time}"
    if entry.outcome == LATE:
        return "too late: the drop had closed"
    if entry.outcome == PRACTICED:
        return time
    return "void"


def checkout(result: Checkout, zone: str = "UTC") -> Reply:
    """The answer to ``/cop confirm``; ``zone`` is the member's, for a time shown as text."""
    drop, entry = result.drop, result.entry
    title = f"Drop #{drop.id}: {_pair(drop)}"
    if result.tries_left is not None:
        if entry.step == VOID:
            return Reply.error("Wrong code, and that was the last try: your entry in this drop is void.")
        return Reply.error(
            f"That's not your code. {result.tries_left} {'try' if result.tries_left == 1 else 'tries'} left."
        )
    time = seconds_text(entry.elapsed_ms or 0)
    if entry.outcome == PRACTICED:
        best = result.best_before_ms
        if best is None:
            verdict = "Your first timed run: that's your personal best to beat."
        elif (entry.elapsed_ms or 0) < best:
            verdict = f"🏆 New personal best! Your previous best was {seconds_text(best)}."
        else:
            verdict = f"Your best is {seconds_text(best)} (+{seconds_text((entry.elapsed_ms or 0) - best)})."
        return Reply(
            title=f"✅ Checked out in {time}",
            text=f"{title}, {size_label(entry.size)}.\n{verdict}",
            footer="Measured on the server, from the moment the drop message was sent.",
            color=WIN_COLOR,
            ephemeral=True,
        )
    if entry.outcome == WON:
        return Reply(
            title=f"🎉 You got them! #{entry.position} of {drop.stock}",
            text=f"{title}, {size_label(entry.size)}, checked out in {time}. Winners are paid when results post.",
            color=WIN_COLOR,
            ephemeral=True,
        )
    if entry.outcome == SOLD_OUT:
        return Reply(
            title="😞 Sold out",
            text=f"{title}: all {drop.stock} pairs went before your checkout ({time}).",
            ephemeral=True,
        )
    return Reply.error(f"{title} closed at {when(drop.closes_at, zone)}, before your checkout. It doesn't count.")
