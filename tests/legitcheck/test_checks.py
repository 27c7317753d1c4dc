"""A check from submission through votes to verdict, payout, DM, appeal and moderation (each database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.economy import EconomyRuntime
from bot.legitcheck import LegitChecks
from bot.legitcheck.models import LcCheck, LcPhotoHash, LcVote
from bot.legitcheck.photoindex import PhotoIndex
from core.commands import Permission
from core.delivery.models import OutboxMessage
from core.storage.types import utcnow
from tests.legitcheck.photos import animated_png, jpeg, photo_set, sample, stolen, truncated_jpeg
from tests.testbot import TestBot

SECTIONS: dict[str, dict[str, Any]] = {
    "economy": {"min_account_age_days": 0},
    "legitcheck": {
        "min_voters": 3,
        "min_weight": 1.5,
        "min_lead": 1.0,
        "majority": 0.7,
        "authenticators": ["discord:4242"],
    },
}
PAIR = ("astronaut", "coffee", "chelsea")


@pytest.fixture
async def lc(make_bot: Any) -> TestBot:
    bot: TestBot = await make_bot(**SECTIONS)
    # plain callers from Discord (no fake server here): shell callers would all be the operator
    for name in ("sam", "ann", "bob", "cat", "dan"):
        bot.member(name, platform="discord")
    bot.member("mod", platform="discord", role=Permission.MOD)
    bot.member("auth", platform="discord", external_id="4242")
    return bot


async def _checks(bot: TestBot) -> list[LcCheck]:
    async with bot.engine.db.read() as session:
        return list((await session.execute(select(LcCheck).order_by(LcCheck.id))).scalars())


async def _dms(bot: TestBot, who: str) -> list[OutboxMessage]:
    member_id = await bot.member_id(who)
    async with bot.engine.db.read() as session:
        rows = await session.execute(select(OutboxMessage).where(OutboxMessage.member_id == member_id))
        return list(rows.scalars())


async def _balance(bot: TestBot, who: str) -> int:
    return await bot.engine.service(EconomyRuntime).economy.balance(await bot.member_id(who))


async def test_submit_vote_close_pay_and_dm(lc: TestBot) -> None:
    reply = await lc.ok("sam", '/lc submit "Jordan 4 **Bred**" 10', attachments=photo_set(*PAIR))
    assert "Check #1" in reply.text and "\\*\\*Bred\\*\\*" in reply.text  # member text is escaped
    card = await lc.ok("ann", "/lc show 1")
    assert len(card.images) == 3 and "0 vote(s)" in card.text
    assert [b.label for b in card.buttons] == ["Real", "Fake", "Unsure"]
    await lc.fails("sam", "/lc vote 1 real", "own check")
    picker = await lc.ok("ann", "/lc vote 1 fake")
    ticked = await lc.press("ann", picker, "Stitching")
    ticked = await lc.press("ann", ticked, "Box label")
    ticked = await lc.press("ann", ticked, "✓ Box label")  # ticked again: unticked
    assert [b.label for b in ticked.buttons if b.label.startswith("✓")] == ["✓ Stitching"]
    cast = await lc.press("ann", ticked, "Cast Fake vote")
    assert "Fake (Stitching) on #1" in cast.text
    assert "already voted" in (await lc.press("ann", ticked, "Cast Fake vote")).text  # a double tap
    await lc.fails("ann", "/lc vote 1 real", "already voted")
    await lc.fails("bob", "/lc vote 1 fake picked", "tick at least one reason")
    assert "1 vote(s)" in (await lc.ok("bob", "/lc show 1")).text  # the count, never the choices
    await lc.ok("bob", "/lc vote 1 fake stitching,box looks off")
    closing = await lc.ok("cat", "/lc vote 1 fake sole")
    assert "closed" in closing.text
    check = (await _checks(lc))[0]
    assert (check.status, check.verdict, check.reasons, check.paid) == ("closed", "fake", ["stitching"], True)
    shown = await lc.ok("dan", "/lc show 1")
    assert "Fake" in shown.text and "Stitching" in shown.text and not shown.buttons
    await lc.fails("dan", "/lc vote 1 real", "closed")
    assert [await _balance(lc, who) for who in ("ann", "bob", "cat", "sam")] == [5, 5, 5, 0]
    await lc.engine.service(LegitChecks).finish(1)  # a retried close pays nobody twice
    assert await _balance(lc, "ann") == 5
    dms = await _dms(lc, "sam")
    assert len(dms) == 1 and "closed" in dms[0].payload["title"]
    stats = await lc.ok("ann", "/lc stats")
    assert any(f.name == "Agreed with verdicts" and f.value.startswith("1/1") for f in stats.fields)


async def test_bad_photos_are_refused_and_change_nothing(lc: TestBot) -> None:
    good = photo_set(*PAIR)
    await lc.fails("sam", "/lc submit Dunk", "at least 3 photos")
    await lc.fails("sam", "/lc submit Dunk", "not an image", attachments=[*good, ("x.jpg", b"plain text")])
    await lc.fails("sam", "/lc submit Dunk", "animated", attachments=[*good, ("a.png", animated_png())])
    await lc.fails("sam", "/lc submit Dunk", "not an image", attachments=[*good, ("a.gif", b"GIF89a" + bytes(40))])
    await lc.fails("sam", "/lc submit Dunk", "decode", attachments=[*good, ("t.jpg", truncated_jpeg())])
    await lc.fails("sam", "/lc submit Dunk", "at most", attachments=good * 4)
    huge = jpeg(sample("astronaut").resize((4000, 4000)), quality=100)
    bot = lc
    bot.engine.service(LegitChecks).store.limits = bot.engine.service(LegitChecks).store.limits.model_copy(
        update={"max_mb": len(huge) / 1_000_000 - 0.01}
    )
    await lc.fails("sam", "/lc submit Dunk", "limit", attachments=[*good, ("big.jpg", huge)])
    assert await _checks(lc) == []


async def test_stolen_photos_are_flagged_but_your_own_open_check_is_not(lc: TestBot) -> None:
    await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    again = await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    assert "already used" not in again.text
    thief = [("1.jpg", stolen("astronaut")), *photo_set("rocket", "camera")]
    reply = await lc.ok("bob", '/lc submit "Dunk Low"', attachments=thief)
    assert "Photo 1 was already used in check #1" in reply.text
    card = await lc.ok("ann", "/lc show 3")
    assert "already used in check #1" in card.text
    assert [c.reuse for c in await _checks(lc)][:2] == [[], []]


async def test_another_process_sees_new_hashes(lc: TestBot) -> None:
    other = PhotoIndex(lc.engine.db)
    await other.refresh()
    assert len(other.index) == 0
    await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    async with lc.engine.db.read() as session:
        key, check = (await session.execute(select(LcPhotoHash.key, LcPhotoHash.check).limit(1))).one()
    found = await other.search([(key % 2**64, check % 2**64)], 0, 0)
    assert found and len(other.index) == 48


async def test_deadline_closes_inconclusive_and_pays_nobody(lc: TestBot) -> None:
    await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    await lc.ok("ann", "/lc vote 1 real")
    await lc.ok("bob", "/lc vote 1 fake box")
    async with lc.engine.db.transaction() as session:
        await session.execute(update(LcCheck).values(deadline_at=utcnow() - timedelta(minutes=1)))
    await lc.engine.service(LegitChecks).sweep()
    await lc.engine.service(LegitChecks).sweep()
    check = (await _checks(lc))[0]
    assert (check.status, check.verdict, check.paid, check.announced) == ("closed", "inconclusive", True, True)
    assert await _balance(lc, "ann") == 0 and await _balance(lc, "bob") == 0
    assert "Real 50%" in (await lc.ok("dan", "/lc show 1")).text


async def _closed_fake(lc: TestBot) -> None:
    await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    for who in ("ann", "bob", "cat"):
        await lc.ok(who, "/lc vote 1 fake box")


async def test_appeal_once_to_authenticators_within_the_window(lc: TestBot) -> None:
    await lc.join("auth")
    await _closed_fake(lc)
    await lc.fails("ann", "/lc appeal 1 mine", "Only the member")
    await lc.ok("sam", "/lc appeal 1 the box is from a *retail* batch")
    await lc.fails("sam", "/lc appeal 1 again", "already appealed")
    notices = await _dms(lc, "auth")
    assert len(notices) == 1 and "\\*retail\\*" in notices[0].payload["text"]
    await lc.fails("ann", "/lc review 1 real", "Only authenticators")
    await lc.ok("auth", "/lc review 1 real")
    check = (await _checks(lc))[0]
    assert (check.verdict, check.appeal_state) == ("real", "overturned")
    await lc.ok("sam", '/lc submit "Dunk High"', attachments=photo_set("rocket", "camera", "coins"))
    for who in ("ann", "bob", "cat"):
        await lc.ok(who, "/lc vote 2 real")
    async with lc.engine.db.transaction() as session:
        await session.execute(update(LcCheck).where(LcCheck.id == 2).values(closed_at=utcnow() - timedelta(days=30)))
    await lc.fails("sam", "/lc appeal 2 late", "appeal window")


async def test_an_overturned_verdict_pays_the_voters_who_had_it_right(lc: TestBot) -> None:
    await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    await lc.ok("dan", "/lc vote 1 real")
    for who in ("ann", "bob", "cat"):
        await lc.ok(who, "/lc vote 1 fake box")
    await lc.engine.service(LegitChecks).sweep()
    assert (await _checks(lc))[0].verdict == "fake"
    paid_for_fake = await _balance(lc, "ann")
    assert paid_for_fake > 0 and await _balance(lc, "dan") == 0
    await lc.ok("sam", "/lc appeal 1 bought at retail, receipt attached")
    await lc.ok("auth", "/lc review 1 real")
    await lc.engine.service(LegitChecks).sweep()  # a sweep after the review pays nobody twice
    check = (await _checks(lc))[0]
    assert (check.verdict, check.appeal_state, check.paid) == ("real", "overturned", True)
    assert await _balance(lc, "dan") == paid_for_fake  # the one who had it right, paid like the others were
    assert await _balance(lc, "ann") == paid_for_fake  # kept: voted in good faith, may have spent it


async def test_mods_void_and_bar(lc: TestBot) -> None:
    await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    await lc.join("ann")
    await lc.fails("ann", "/lc void 1 spam", "mod")
    await lc.ok("mod", "/lc bar @ann")
    await lc.fails("ann", "/lc vote 1 real", "barred")
    await lc.ok("bob", "/lc vote 1 real")
    await lc.ok("mod", "/lc void 1 duplicate listing")
    check = (await _checks(lc))[0]
    assert check.status == "void" and await _balance(lc, "bob") == 0
    await lc.fails("cat", "/lc vote 1 real", "closed")
    await lc.fails("mod", "/lc void 1 again", "not open")
    async with lc.engine.db.read() as session:
        assert len(list((await session.execute(select(LcVote))).scalars())) == 1


async def test_gold_checks_score_voters_against_the_known_answer(lc: TestBot) -> None:
    lc.member("boss", platform="discord", role=Permission.ADMIN)
    await lc.ok("boss", "/lc gold real Dunk Low", attachments=photo_set(*PAIR))
    card = await lc.ok("ann", "/lc show 1")
    assert "gold" not in card.plain_text().lower()
    for who, choice in (("ann", "real"), ("bob", "fake box"), ("cat", "fake box"), ("dan", "fake box")):
        await lc.ok(who, f"/lc vote 1 {choice}")
    check = (await _checks(lc))[0]
    assert check.verdict == "real"
    ann = await lc.ok("ann", "/lc stats")
    bob = await lc.ok("ann", "/lc stats @bob")
    assert any(f.name == "Gold accuracy" and f.value.startswith("1/1") for f in ann.fields)
    assert any(f.name == "Gold accuracy" and f.value.startswith("0/1") for f in bob.fields)


async def test_mine_and_queue(lc: TestBot) -> None:
    await lc.ok("sam", "/lc submit Dunk Low 9", attachments=photo_set(*PAIR))
    await lc.ok("bob", '/lc submit "Dunk High"', attachments=photo_set("rocket", "camera", "coins"))
    assert "#1 **Dunk Low** (size 9)" in (await lc.ok("sam", "/lc mine")).text
    queue = await lc.ok("sam", "/lc queue")
    assert "#2" in queue.text and "#1" not in queue.text
    await lc.ok("sam", "/lc vote 2 real")
    assert "Nothing to vote on" in (await lc.ok("sam", "/lc queue")).text
    await lc.fails("sam", "/lc vote 2 fake nonsense", "pick from")
    await lc.fails("sam", "/lc show 99", "No legit check")


async def test_votes_on_the_same_submitter_again_and_again_weigh_less(lc: TestBot) -> None:
    for _ in range(3):
        await lc.ok("sam", '/lc submit "Dunk Low"', attachments=photo_set(*PAIR))
    for check_id in (1, 2, 3):
        await lc.ok("ann", f"/lc vote {check_id} real")
    async with lc.engine.db.read() as session:
        weights = list((await session.execute(select(LcVote.weight).order_by(LcVote.check_id))).scalars())
    assert weights == pytest.approx([0.5, 0.5, 0.25])
