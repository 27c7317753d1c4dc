"""``/lc`` commands, declared once for every frontend (SMS shows and votes but can't send photos)."""

from __future__ import annotations

import re

from bot.legitcheck import render
from bot.legitcheck.models import CLOSED, OPEN, VOID, LcCheck
from bot.legitcheck.service import LegitChecks
from bot.legitcheck.tally import CHOICES, FAKE, REAL, REASON_LABELS, REASONS, UNSURE, weight
from bot.legitcheck.tally import Record as VoterRecord
from core.attachments import Attachment
from core.commands import FRONTENDS, Command, Param, ParamType, Permission
from core.context import Context
from core.errors import BadArgument, UserError
from core.markup import escape
from core.replies import Button, Reply

_PHOTO_FRONTENDS = frozenset(FRONTENDS) - {"sms"}
#: US 10, 10.5, UK 9, EU 44, 7Y, 8W, XL...
_SIZE = re.compile(r"(?:(?:us|uk|eu|m|w|y)\s*)?\d{1,2}(?:[.,]5)?\s*[a-z]{0,2}|xxs|xs|s|m|l|xl|xxl|os", re.I)
_REASON_CODES = tuple(code for code, _ in REASONS)
_CHECK_ID = Param("id", "The check's number (#12)", type=ParamType.INTEGER, min_value=1)


def _service(ctx: Context) -> LegitChecks:
    return ctx.service(LegitChecks)


def split_size(item: str, size: str | None) -> tuple[str, str | None]:
    """``/lc submit jordan 4 bred 10`` typed without quotes: the last word is the size when it looks
    like one, and the words before it belong to the item."""
    if size is None or _SIZE.fullmatch(size.strip()):
        return item, size
    *rest, last = size.split()
    if _SIZE.fullmatch(last):
        item, size = " ".join([item, *rest]), last
    else:
        item, size = f"{item} {size}", None
    if len(item) > 200:
        raise BadArgument("item", "at most 200 characters")
    return item, size


async def submit(ctx: Context, item: str, size: str | None = None, photos: list[Attachment] | None = None) -> Reply:
    service = _service(ctx)
    item, size = split_size(item, size)
    files = photos or []
    if len(files) < service.settings.min_photos:
        raise UserError(
            f"A check needs at least {service.settings.min_photos} photos; you sent {len(files)}. "
            f"Shots to send:\n{render.shots_text()}"
        )
    stored = await service.store.store_all(files)
    done = await service.submit(ctx.member, item, size, stored, request_key=ctx.request_id)
    check = done.check
    lines = [f"Check #{check.id} of {render.item_name(check)} is posted for votes."]
    lines.extend(render.reuse_lines(check))
    return Reply(title="🔎 Legit check submitted", text="\n".join(lines), footer=f"/lc show {check.id}")


async def gold(ctx: Context, answer: str, item: str, photos: list[Attachment] | None = None) -> Reply:
    """A check whose answer is known, to measure voters; it looks like any other check."""
    service = _service(ctx)
    stored = await service.store.store_all(photos or [])
    done = await service.submit(ctx.member, item, None, stored, request_key=ctx.request_id, gold_answer=answer)
    return Reply(
        title="🔎 Gold check seeded",
        text=f"Check #{done.check.id} (answer: {answer}) is posted like any other.",
        ephemeral=True,
    )


async def show(ctx: Context, id: int) -> Reply:
    service = _service(ctx)
    check = await service.get(id)
    reply = await service.card(check, with_photos=ctx.platform != "sms")
    if check.status != OPEN or check.member_id == ctx.member.id:
        reply = reply.model_copy(update={"buttons": []})
    return reply


async def vote(ctx: Context, id: int, choice: str, reasons: str | None = None, note: str | None = None) -> Reply:
    service = _service(ctx)
    if reasons is not None and reasons.strip().lower() == "picked":
        await service.votable(ctx.member, id)  # a double tap on "Cast" says it was cast, not "tick one"
        picked = await service.drafted(ctx.member, id, choice)
        if not picked:
            raise BadArgument("reasons", "tick at least one reason first")
    else:
        picked = _reasons(reasons) if reasons else []
    if choice in (FAKE, UNSURE) and not picked:
        await service.votable(ctx.member, id)
        return render.reason_picker(id, choice, await service.drafted(ctx.member, id, choice))
    if choice == REAL and picked:
        raise BadArgument("reasons", "a Real vote takes no reasons; add a note instead")
    cast = await service.vote(ctx.member, id, choice, picked, (note or "").strip())
    why = f" ({', '.join(REASON_LABELS[code] for code in picked)})" if picked else ""
    closed = " It reached its quorum and is closed." if cast.closed else " Votes stay hidden until it closes."
    return Reply(title="🗳️ Vote recorded", text=f"{render.choice_label(choice)}{why} on #{id}.{closed}", ephemeral=True)


async def pick(ctx: Context, id: int, choice: str, reason: str) -> Reply:
    """A checklist button: tick or untick one reason, then show the checklist again."""
    picked = await _service(ctx).pick(ctx.member, id, choice, reason)
    return render.reason_picker(id, choice, picked)


def _reasons(text: str) -> list[str]:
    picked: list[str] = []
    for word in text.replace(",", " ").split():
        code = word.strip().lower()
        if code not in REASON_LABELS:
            raise BadArgument("reasons", f"pick from: {', '.join(code for code, _ in REASONS)}")
        if code not in picked:
            picked.append(code)
    return picked


async def mine(ctx: Context) -> Reply:
    checks = await _service(ctx).mine(ctx.member.id)
    if not checks:
        return Reply.info(
            "You have no legit checks yet. Start one with `/lc submit ITEM [size]` and photos.", ephemeral=True
        )
    lines = [f"#{c.id} {render.item_name(c)}: {_state(c)}" for c in checks]
    return Reply(title="🔎 Your legit checks", text="\n".join(lines), ephemeral=True)


def _state(check: LcCheck) -> str:
    if check.status == VOID:
        return "voided"
    if check.status == CLOSED:
        return render.VERDICT_LABELS.get(check.verdict or "inconclusive", "closed")
    return "open for votes"


async def queue(ctx: Context) -> Reply:
    checks = await _service(ctx).queue(ctx.member.id)
    if not checks:
        return Reply.info("Nothing to vote on: you have voted on every open check.", ephemeral=True)
    return Reply(
        title="🗳️ Checks waiting for your vote",
        text="\n".join(f"#{c.id} {render.item_name(c)}" for c in checks),
        buttons=[Button(label=f"Show #{c.id}", action=f"/lc show {c.id}") for c in checks[:5]],
        ephemeral=True,
    )


async def stats(ctx: Context, member: str | None = None) -> Reply:
    service = _service(ctx)
    who = ctx.member
    if member:
        found = await ctx.engine.identity.find_by_handle(member)
        if found is None:
            raise UserError(f"No member called `{escape(member.strip()[:40])}`.")
        who = found
    voter, votes = await service.record(who.id)
    record = (
        VoterRecord()
        if voter is None
        else VoterRecord(voter.agreed, voter.disagreed, voter.gold_right, voter.gold_wrong)
    )
    judged = record.agreed + record.disagreed
    gold_total = record.gold_right + record.gold_wrong
    authenticator = await service.is_authenticator(who.id)
    fields = [
        ("Votes", str(votes)),
        ("Agreed with verdicts", f"{record.agreed}/{judged}" + (f" ({record.agreed / judged:.0%})" if judged else "")),
        (
            "Gold accuracy",
            f"{record.gold_right}/{gold_total}" + (f" ({record.gold_right / gold_total:.0%})" if gold_total else ""),
        ),
        ("Vote weight", f"{weight(record, service.settings, authenticator=authenticator):.2f}"),
    ]
    if voter is not None and voter.barred:
        fields.append(("Status", "barred from voting"))
    return Reply(title=f"🔎 LC stats: {escape(who.display_name)}", fields=fields)


async def appeal(ctx: Context, id: int, note: str) -> Reply:
    await _service(ctx).appeal(ctx.member, id, note.strip())
    return Reply(
        title="⚖️ Appeal sent", text=f"Authenticators will review #{id}. You'll hear back by DM.", ephemeral=True
    )


async def review(ctx: Context, id: int, decision: str) -> Reply:
    check = await _service(ctx).review(ctx.member, id, decision)
    return Reply(title=f"⚖️ Appeal of #{id}: {check.appeal_state}", text=render.verdict_text(check), ephemeral=True)


async def void(ctx: Context, id: int, reason: str) -> Reply:
    await _service(ctx).void(id, reason.strip())
    return Reply(title=f"🔎 Check #{id} voided", text="No payouts; the submitter is told.", ephemeral=True)


async def bar(ctx: Context, member: str, barred: bool = True) -> Reply:
    found = await ctx.engine.identity.find_by_handle(member)
    if found is None:
        raise UserError(f"No member called `{escape(member.strip()[:40])}`.")
    await _service(ctx).bar(found.id, barred)
    state = "barred from" if barred else "allowed to resume"
    return Reply(title="🔎 Legit checks", text=f"{escape(found.display_name)} is {state} voting.", ephemeral=True)


def commands() -> list[Command]:
    photos = Param("photos", "Photos of the pair (the required shots)", type=ParamType.ATTACHMENTS, required=False)
    return [
        Command(
            name="lc submit",
            description="Ask the community whether a pair is real: attach the photos.",
            handler=submit,
            params=(
                Param("item", "The pair (quote many words)", max_length=200),
                Param("size", "Its size", required=False, max_length=16),
                photos,
            ),
            frontends=_PHOTO_FRONTENDS,
        ),
        Command(name="lc show", description="Show a legit check.", handler=show, params=(_CHECK_ID,)),
        Command(
            name="lc vote",
            description="Vote Real, Fake or Unsure on a check (hidden until it closes).",
            handler=vote,
            params=(
                _CHECK_ID,
                Param("choice", "real, fake or unsure", choices=CHOICES),
                Param(
                    "reasons",
                    "Fake/Unsure: box,tongue,stitching,shape,materials,sole,print",
                    required=False,
                    max_length=80,
                ),
                Param("note", "A short note", required=False, max_length=200, rest=True),
            ),
            # a vote is secret until the check closes: answers go to the voter alone (by DM from a group)
            private=True,
        ),
        Command(
            name="lc pick",
            description="Tick or untick a reason of your Fake or Unsure vote (the checklist buttons).",
            handler=pick,
            params=(
                _CHECK_ID,
                Param("choice", "fake or unsure", choices=(FAKE, UNSURE)),
                Param("reason", "box, tongue, stitching, shape, materials, sole or print", choices=_REASON_CODES),
            ),
            private=True,
        ),
        Command(name="lc mine", description="Your legit checks and their verdicts.", handler=mine),
        Command(name="lc queue", description="Open checks you haven't voted on.", handler=queue),
        Command(
            name="lc stats",
            description="A voter's checks, agreement with verdicts and gold accuracy.",
            handler=stats,
            params=(Param("member", "Whose (default: you)", type=ParamType.MEMBER, required=False),),
        ),
        Command(
            name="lc appeal",
            description="Appeal your check's verdict (once) to the authenticators.",
            handler=appeal,
            params=(_CHECK_ID, Param("note", "Why the verdict is wrong", max_length=300, rest=True)),
        ),
        Command(
            name="lc review",
            description="Authenticators: decide an appeal (uphold, real or fake).",
            handler=review,
            params=(_CHECK_ID, Param("decision", "uphold, real or fake", choices=("uphold", REAL, FAKE))),
        ),
        Command(
            name="lc void",
            description="Mods: void an open check (no payouts).",
            handler=void,
            params=(_CHECK_ID, Param("reason", "Why", max_length=200, rest=True)),
            permission=Permission.MOD,
        ),
        Command(
            name="lc bar",
            description="Mods: bar a member from voting on checks (off to lift it).",
            handler=bar,
            params=(
                Param("member", "Who", type=ParamType.MEMBER),
                Param("barred", "on to bar, off to lift", type=ParamType.BOOLEAN, required=False, default=True),
            ),
            permission=Permission.MOD,
        ),
        Command(
            name="lc gold",
            description="Admins: seed a check whose answer is known, to measure voters.",
            handler=gold,
            params=(
                Param("answer", "real or fake", choices=(REAL, FAKE)),
                Param("item", "The pair", max_length=200),
                photos,
            ),
            permission=Permission.ADMIN,
            frontends=_PHOTO_FRONTENDS,
        ),
    ]
