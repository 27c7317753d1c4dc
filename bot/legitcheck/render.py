"""What checks look like: the feed card (photos, reuse warning, vote buttons), the verdict, the DMs."""

from __future__ import annotations

from collections.abc import Sequence

from bot.legitcheck.models import CLOSED, VOID, LcCheck
from bot.legitcheck.tally import FAKE, INCONCLUSIVE, REAL, REASON_LABELS, REASONS, UNSURE
from core.markup import escape, timestamp
from core.replies import Button, Reply, ReplyImage

#: the shots a check should show; members are told which to send
REQUIRED_SHOTS = (
    "box label",
    "size tag",
    "tongue tag",
    "insoles",
    "stitching",
    "outsole",
    "a tag with your name and today's date beside the pair",
)
VERDICT_LABELS = {REAL: "✅ Real", FAKE: "❌ Fake", INCONCLUSIVE: "❔ Inconclusive"}
_COLOURS = {REAL: 0x2ECC71, FAKE: 0xE74C3C, INCONCLUSIVE: 0x95A5A6}


def shots_text() -> str:
    return "\n".join(f"• {shot}" for shot in REQUIRED_SHOTS)


def item_name(check: LcCheck) -> str:
    size = f" (size {escape(check.size)})" if check.size else ""
    return f"**{escape(check.item)}**{size}"


def reuse_lines(check: LcCheck) -> list[str]:
    return [
        f"⚠️ Photo {hit['photo']} was already used in check #{hit['check_id']} (`/lc show {hit['check_id']}`)"
        for hit in check.reuse
    ]


def shares_text(check: LcCheck) -> str:
    return f"Real {check.real_share:.0%} · Fake {check.fake_share:.0%} · Unsure {check.unsure_share:.0%} (weighted)"


def verdict_text(check: LcCheck) -> str:
    verdict = check.verdict or INCONCLUSIVE
    lines = [f"Verdict: **{VERDICT_LABELS[verdict]}**", shares_text(check)]
    if verdict == FAKE and check.reasons:
        lines.append("Agreed reasons: " + ", ".join(REASON_LABELS.get(code, code) for code in check.reasons))
    if check.appeal_state == "open":
        lines.append("Appealed: authenticators are reviewing it.")
    elif check.appeal_state in ("upheld", "overturned"):
        lines.append(f"Appeal {check.appeal_state} by an authenticator.")
    return "\n".join(lines)


def card(check: LcCheck, votes: int, photos: Sequence[tuple[str, bytes]] = ()) -> Reply:
    """The check as the feed and ``/lc show`` show it; votes stay hidden while it is open."""
    lines = [f"Legit check of {item_name(check)}"]
    lines.extend(reuse_lines(check))
    buttons: list[Button] = []
    color = 0x3498DB
    if check.status == VOID:
        lines.append(f"Voided by a mod: {escape(check.void_reason or '')}")
        color = 0x7F8C8D
    elif check.status == CLOSED:
        lines.append(verdict_text(check))
        color = _COLOURS.get(check.verdict or INCONCLUSIVE, color)
    else:
        closes = timestamp(check.deadline_at, check.deadline_at.strftime("%Y-%m-%d %H:%M UTC"))
        lines.append(f"{votes} vote(s) so far, hidden until it closes (at the latest {closes}).")
        buttons = [
            Button(label="Real", action=f"/lc vote {check.id} real"),
            Button(label="Fake", action=f"/lc vote {check.id} fake"),
            Button(label="Unsure", action=f"/lc vote {check.id} unsure"),
        ]
    return Reply(
        title=f"🔎 Legit check #{check.id}",
        text="\n".join(lines),
        images=[ReplyImage(name=name, data=data) for name, data in photos],
        buttons=buttons,
        footer=f"/lc show {check.id}",
        color=color,
    )


def reason_picker(check_id: int, choice: str, picked: Sequence[str] = ()) -> Reply:
    """A Fake or Unsure press: the checklist as buttons that tick and untick reasons, and one that casts
    the vote with the ticked ones."""
    label = "Fake" if choice == FAKE else "Unsure"
    ticked = ", ".join(REASON_LABELS[code] for code in picked) or "none yet"
    buttons = [
        Button(label=f"✓ {text}" if code in picked else text, action=f"/lc pick {check_id} {choice} {code}")
        for code, text in REASONS
    ]
    buttons.append(Button(label=f"Cast {label} vote", action=f"/lc vote {check_id} {choice} picked"))
    return Reply(
        title=f"{label} on #{check_id}: why?",
        text=(
            f"Tick the reasons, then cast the vote. Ticked: {ticked}.\nTo add a note, type "
            f"`/lc vote {check_id} {choice} box,stitching your note`."
        ),
        buttons=buttons,
        ephemeral=True,
    )


def verdict_dm(check: LcCheck) -> Reply:
    return Reply(
        title=f"🔎 Your legit check #{check.id} closed",
        text=f"{item_name(check)}\n{verdict_text(check)}",
        footer=f"Disagree? /lc appeal {check.id} (once)",
    )


def choice_label(choice: str) -> str:
    return {REAL: "Real", FAKE: "Fake", UNSURE: "Unsure"}[choice]
