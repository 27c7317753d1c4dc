"""How trades read in chat: proposals, the open trade, completion and reputation. Everything a
member typed (names, notes) is escaped here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.trades.listings import CONDITION_LABELS
from bot.trades.models import TradeHave, TradeLeg, TradeProposal
from bot.trades.reputation import Reputation
from core.markup import escape
from core.replies import Button, Reply, ReplyField

PROPOSAL_COLOR = 0x3498DB
OPEN_COLOR = 0x2ECC71
OFF_COLOR = 0x95A5A6


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def item(have: TradeHave) -> str:
    """``**Air Jordan 4 Bred** · size 10 · deadstock``."""
    condition = CONDITION_LABELS.get(have.condition, have.condition)
    text = f"**{escape(have.item_name)}** · size {escape(have.size_key)} · {condition}"
    if have.note:
        text += f" · “{escape(have.note)}”"
    return text


def name(names: Mapping[int, str], member_id: int) -> str:
    return f"**{escape(names.get(member_id, f'member #{member_id}'))}**"


def rep_line(rep: Reputation | None) -> str:
    if rep is None:
        return "no trades yet"
    parts = [f"{rep.completed_trades} trade{'s' if rep.completed_trades != 1 else ''}"]
    if rep.average_review is not None:
        parts.append(f"★{rep.average_review:.1f} ({rep.reviews})")
    parts.append(f"account {rep.account_age_days:.0f} days")
    if rep.legit_accuracy is not None:
        parts.append(f"legit checks {rep.legit_accuracy * 100:.0f}% right")
    return ", ".join(parts)


def proposal_dm(
    proposal: TradeProposal,
    member_id: int,
    legs: Sequence[TradeLeg],
    haves: Mapping[int, TradeHave],
    names: Mapping[int, str],
    reps: Mapping[int, Reputation],
) -> Reply:
    members = {leg.giver_id for leg in legs}
    mine = [leg for leg in legs if leg.giver_id == member_id]
    gives = [f"{item(haves[leg.have_id])} → to {name(names, leg.receiver_id)}" for leg in mine]
    gets = [
        f"{item(haves[leg.have_id])} from {name(names, leg.giver_id)} ({rep_line(reps.get(leg.giver_id))})"
        for leg in legs
        if leg.receiver_id == member_id
    ]
    kind = "swap" if len(members) == 2 else f"{len(members)}-way trade"
    meet = " Meet-up only: you hand over in person." if proposal.local else ""
    return Reply(
        title=f"🔁 Trade proposal #{proposal.id}",
        text=f"The matcher found a {kind} for you. Everyone has to accept before {when(proposal.deadline)}.{meet}",
        fields=[
            ReplyField(name="You give", value="\n".join(gives), inline=False),
            ReplyField(name="You get", value="\n".join(gets), inline=False),
        ],
        buttons=[
            Button(label="✅ Accept", action=f"trades accept {proposal.id}"),
            Button(label="❌ Decline", action=f"trades decline {proposal.id}"),
        ],
        footer=f"Proposal #{proposal.id} · or type /trades accept {proposal.id} (or decline)",
        color=PROPOSAL_COLOR,
    )


def open_dm(proposal: TradeProposal, member_id: int, legs: Sequence[TradeLeg], haves: Mapping[int, TradeHave],
            names: Mapping[int, str]) -> Reply:  # fmt: skip
    out = [leg for leg in legs if leg.giver_id == member_id]
    into = [leg for leg in legs if leg.receiver_id == member_id]
    gives = [f"{item(haves[leg.have_id])} → {name(names, leg.receiver_id)}" for leg in out]
    gets = [f"{item(haves[leg.have_id])} ← {name(names, leg.giver_id)}" for leg in into]
    if proposal.local:
        text = "Everyone accepted. Meet up, swap, then press **Met**."
        buttons = [Button(label="🤝 Met", action=f"trades met {proposal.id}")]
    else:
        text = ("Everyone accepted. Ship what you give and press **Sent**; press **Received** when yours "
                "arrives. Agree on addresses in private messages.")  # fmt: skip
        buttons = [
            Button(label="📦 Sent", action=f"trades sent {proposal.id}"),
            Button(label="📬 Received", action=f"trades received {proposal.id}"),
        ]
    buttons.append(Button(label="⚠️ Dispute", action=f"trades dispute {proposal.id}"))
    return Reply(
        title=f"🤝 Trade #{proposal.id} is on",
        text=text,
        fields=[ReplyField(name="You give", value="\n".join(gives), inline=False),
                ReplyField(name="You get", value="\n".join(gets), inline=False)],
        buttons=buttons,
        color=OPEN_COLOR,
    )  # fmt: skip


def off_dm(proposal: TradeProposal, why: str) -> Reply:
    return Reply(
        title=f"🚫 Trade proposal #{proposal.id} is off",
        text=f"{why} Your listings are back in the matcher; you'll hear when it finds another trade.",
        color=OFF_COLOR,
    )


def completed_dm(proposal: TradeProposal, member_id: int, legs: Sequence[TradeLeg], names: Mapping[int, str]) -> Reply:
    givers = [leg.giver_id for leg in legs if leg.receiver_id == member_id]
    who = ", ".join(name(names, giver) for giver in givers)
    return Reply(
        title=f"✅ Trade #{proposal.id} complete",
        text=f"Everything arrived. How was trading with {who}? One tap to review (add a note with "
        f"`/trades review {proposal.id} STARS note`).",
        buttons=[Button(label="⭐" * n, action=f"trades review {proposal.id} {n}") for n in range(5, 0, -1)],
        color=OPEN_COLOR,
    )


def reputation_reply(display: str, rep: Reputation) -> Reply:
    fields = [
        ReplyField(name="Completed trades", value=f"{rep.completed_trades}"
                   + (f" (of {rep.all_trades})" if rep.all_trades != rep.completed_trades else "")),
        ReplyField(name="Average review", value="—" if rep.average_review is None
                   else f"★{rep.average_review:.2f} from {rep.reviews} review{'s' if rep.reviews != 1 else ''}"),
        ReplyField(name="Account age", value=f"{rep.account_age_days:.0f} days"),
        ReplyField(name="Score", value=f"{rep.score:g}"),
    ]  # fmt: skip
    if rep.legit_accuracy is not None:
        fields.append(ReplyField(name="Legit-check accuracy", value=f"{rep.legit_accuracy * 100:.0f}%"))
    return Reply(
        title=f"🧾 {escape(display)}'s trade reputation",
        fields=fields,
        footer="Trades count once a month per pair and only between accounts 14+ days old; reviews count "
        "only when both sides confirmed.",
    )
