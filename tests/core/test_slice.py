"""The slice contract: dependency order, typed service lookup, start failures, frontend hooks and
each slice's own config section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from bot.slices import SLICES, config_sections, load_config
from core.config import Config, Section
from core.config import load_config as load_core_config
from core.engine import Engine, SliceStartError
from core.errors import ConfigError
from core.slice import Slice, SliceError, in_dependency_order
from core.storage.database import Database


@pytest.fixture(autouse=True)
def no_bot_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's bot.toml names the real slices' sections; these tests bring their own."""
    monkeypatch.setenv("SNPD_CONFIG", str(tmp_path / "absent.toml"))


class Journal:
    """What the test slices did, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []


class Named(Slice[Journal]):
    def __init__(self, name: str, journal: Journal, *, needs: tuple[str, ...] = (), fail: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.depends_on = needs  # type: ignore[misc]
        self._journal = journal
        self._fail = fail

    def build(self, engine: Engine) -> Journal:
        self._journal.lines.append(f"build {self.name}")
        return self._journal

    async def start(self, services: Journal) -> None:
        if self._fail:
            raise RuntimeError("no route to the store")
        services.lines.append(f"start {self.name}")

    async def stop(self, services: Journal) -> None:
        services.lines.append(f"stop {self.name}")

    def frontend_attached(self, services: Journal, platform: str) -> None:
        services.lines.append(f"{self.name} sees {platform}")


class Settings(Section):
    limit: int = Field(default=3, ge=1)


class Configured(Slice[Settings]):
    name = "widgets"
    config_model = Settings

    def build(self, engine: Engine) -> Settings:
        return engine.config.get(Settings)


def test_slices_start_after_their_dependencies_and_keep_the_listed_order_otherwise() -> None:
    journal = Journal()
    listed = [Named("a", journal, needs=("c",)), Named("b", journal), Named("c", journal)]
    assert [item.name for item in in_dependency_order(listed)] == ["c", "a", "b"]


@pytest.mark.parametrize(
    ("needs", "message"),
    [({"a": ("b",), "b": ("a",)}, "cycle: a -> b -> a"), ({"a": ("nope",)}, "depends on 'nope'")],
)
def test_inconsistent_slice_lists_are_refused_with_the_reason(needs: dict[str, tuple[str, ...]], message: str) -> None:
    journal = Journal()
    listed = [Named(name, journal, needs=deps) for name, deps in needs.items()]
    if "b" not in needs:
        listed.append(Named("b", journal))
    with pytest.raises(SliceError, match=message):
        in_dependency_order(listed)


def _engine(tmp_path: Path, slices: list[Slice[Any]]) -> Engine:
    own = {item.name: item.config_model for item in slices if item.config_model is not None}
    config = load_core_config(None, overrides={"bot": {"data_dir": str(tmp_path)}}, sections=own)
    return Engine(config, db=Database(f"sqlite+aiosqlite:///{tmp_path / 'slices.db'}"), slices=slices)


async def test_engine_starts_in_order_stops_in_reverse_and_tells_slices_of_frontends(tmp_path: Path) -> None:
    journal = Journal()
    engine = _engine(tmp_path, [Named("alerts", journal, needs=("delivery",)), Named("delivery", journal)])
    await engine.start(migrate=False)
    engine.attach(_FakeFrontend())
    await engine.stop()
    assert journal.lines == [
        "build delivery", "build alerts", "start delivery", "start alerts",
        "delivery sees test", "alerts sees test", "stop alerts", "stop delivery",
    ]


async def test_a_slice_that_fails_to_start_stops_the_ones_already_started(tmp_path: Path) -> None:
    journal = Journal()
    engine = _engine(tmp_path, [Named("delivery", journal), Named("monitors", journal, fail=True)])
    with pytest.raises(SliceStartError, match="the monitors slice failed to start: no route to the store"):
        await engine.start(migrate=False)
    assert journal.lines[-1] == "stop delivery"
    await engine.db.dispose()


async def test_services_are_found_by_type_and_a_missing_slice_says_so(tmp_path: Path) -> None:
    engine = _engine(tmp_path, [Configured()])
    assert engine.service(Settings).limit == 3
    with pytest.raises(LookupError, match=r"Journal is not available: its slice is not in bot/slices\.py"):
        engine.service(Journal)
    await engine.db.dispose()


def test_every_slice_section_is_validated_with_the_key_named(tmp_path: Path) -> None:
    sections = config_sections()
    assert {"alerts", "delivery", "economy", "monitors", "account"} <= set(sections)
    (tmp_path / "bot.toml").write_text("[alerts]\nrecent_events = 'lots'\n")
    with pytest.raises(ConfigError, match=r"\[alerts\] recent_events"):
        load_config(tmp_path / "bot.toml")


def test_the_slice_list_names_every_feature_once_and_resolves() -> None:
    names = [item.name for item in in_dependency_order(SLICES)]
    assert len(names) == len(set(names))
    assert names.index("delivery") < names.index("alerts")


def test_config_get_returns_the_typed_section() -> None:
    config: Config = load_config(None, overrides={})
    from bot.alerts.config import AlertsSection

    assert isinstance(config.get(AlertsSection), AlertsSection)


class _FakeFrontend:
    """Only ``name`` is read by ``Engine.attach``."""

    name = "test"
