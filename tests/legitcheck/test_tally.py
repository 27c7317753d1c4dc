"""Weights and verdicts: new members weigh little, gold answers count more, quorum needs both counts."""

from __future__ import annotations

import pytest

from bot.legitcheck.config import LegitCheckSection
from bot.legitcheck.tally import (
    FAKE,
    INCONCLUSIVE,
    REAL,
    UNSURE,
    Ballot,
    Record,
    affinity,
    simple_majority,
    tally,
    weight,
)

SETTINGS = LegitCheckSection(min_voters=3, min_weight=3.0, majority=0.7, min_lead=1.0)


def test_weights_start_low_and_grow_with_being_right() -> None:
    new = weight(Record(), SETTINGS)
    assert new == pytest.approx(SETTINGS.new_member_weight)
    assert weight(Record(agreed=10), SETTINGS) > new
    assert weight(Record(gold_right=3), SETTINGS) > weight(Record(agreed=3), SETTINGS)
    assert weight(Record(disagreed=10), SETTINGS) < new
    assert weight(Record(agreed=10_000), SETTINGS) == SETTINGS.max_weight
    assert weight(Record(), SETTINGS, authenticator=True) == SETTINGS.authenticator_weight


def test_quorum_needs_voters_and_weight() -> None:
    light = [Ballot(REAL, 0.5)] * 3
    assert tally(light, SETTINGS, final=False).verdict is None
    heavy = [Ballot(REAL, 4.0)]
    assert tally(heavy, SETTINGS, final=False).verdict is None
    assert tally([Ballot(REAL, 1.0)] * 3, SETTINGS, final=False).verdict == REAL


def test_fake_verdict_keeps_the_reasons_most_weight_agreed_on() -> None:
    ballots = [
        Ballot(FAKE, 2.0, ("stitching", "box")),
        Ballot(FAKE, 1.0, ("stitching",)),
        Ballot(FAKE, 1.0, ("sole",)),
        Ballot(REAL, 0.5),
    ]
    outcome = tally(ballots, SETTINGS, final=False)
    assert outcome.verdict == FAKE
    assert outcome.reasons == ("box", "stitching")
    assert round(outcome.shares[FAKE], 3) == round(4 / 4.5, 3)


def test_a_split_check_is_inconclusive_at_its_deadline() -> None:
    ballots = [Ballot(REAL, 1.0), Ballot(FAKE, 1.0), Ballot(UNSURE, 1.0), Ballot(REAL, 1.0)]
    assert tally(ballots, SETTINGS, final=False).verdict is None
    assert tally(ballots, SETTINGS, final=True).verdict == INCONCLUSIVE
    assert simple_majority([REAL, FAKE]) == INCONCLUSIVE
    assert simple_majority([REAL, REAL, FAKE]) == REAL


def test_voting_again_and_again_on_one_submitter_weighs_less() -> None:
    assert affinity(2.0, 0, SETTINGS) == affinity(2.0, SETTINGS.friend_allowance, SETTINGS) == 2.0
    assert affinity(2.0, SETTINGS.friend_allowance + 1, SETTINGS) == 1.0
    assert affinity(2.0, SETTINGS.friend_allowance + 3, SETTINGS) == 0.5


def test_an_unquoted_item_keeps_its_words_and_the_size_is_the_last_one() -> None:
    from bot.legitcheck.commands import split_size

    assert split_size("Jordan", "4 Bred 10") == ("Jordan 4 Bred", "10")
    assert split_size("Dunk", "Low") == ("Dunk Low", None)
    assert split_size("Jordan 4", "US 10.5") == ("Jordan 4", "US 10.5")
    assert split_size("Dunk", None) == ("Dunk", None)
