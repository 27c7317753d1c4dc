"""Deadstock Detective: the catalog pairs the forecast model expects to rise most over the next 30 days.

The model (``bot.market.forecast``) is fitted on every sale in the price table, off the event loop,
and the fit is reused for ``[market] detective_cache_s`` unless nothing changed (fitting takes
seconds). Each catalog pair with recent sales is priced in its most sold sizes "today", the date of
the latest sale in the table (a history that stops in 2018 is read as of its last day), and 30 days
later. The confidence comes from the width of the 80% interval around the 30-day price; the reasons
are the pair's recent sales trend, its size curve and how similar releases moved at the same age.

``publish_predictions`` (a scheduler job) puts a ``monitor.event`` of kind ``prediction`` on the bus
for each pair whose rise reaches ``prediction_threshold_pct``, keyed on the pair and the calendar day,
so alert rules with ``kinds:prediction`` hear of a pair at most once a day.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from bot.market import prices
from bot.market.config import MarketSection
from bot.market.forecast.intervals import Forecaster
from bot.market.forecast.model import size_key
from bot.market.forecast.names import parse_name
from bot.market.forecast.table import Query, parse_day, parse_price
from bot.market.forecast.table import Sale as ModelSale
from bot.market.models import CatalogProduct
from bot.monitors.models import PriceObservation
from bot.monitors.service import EVENT_TOPIC
from core.commands import Command
from core.context import Context
from core.events import EventBus
from core.markup import clip
from core.replies import Button, Reply, ReplyField
from core.storage.database import Database
from core.storage.types import utcnow

HORIZON_DAYS = 30
#: a pair whose latest sale is older than this before "today" has no market to forecast
ACTIVE_DAYS = 60
#: sizes priced per pair (its most sold ones); the pair's figure is their median
SIZES_PER_PAIR = 5
#: interval width (high - low, over the 30-day price) up to which the confidence is high, then medium
CONFIDENT_WIDTH = (0.25, 0.6)
EVENT_KIND = "prediction"
STORE = "Deadstock Detective"


@dataclass(frozen=True, slots=True)
class Outlook:
    """One pair's forecast: today's and the 30-day price (medians over its main sizes)."""

    catalog_id: int
    name: str
    brand: str
    today: float
    in_30: float
    low: float
    high: float
    confidence: str
    reasons: tuple[str, ...]
    #: sizes whose own predicted rise reaches the alert threshold
    rising_sizes: tuple[str, ...]

    @property
    def rise_pct(self) -> float:
        return (self.in_30 / self.today - 1.0) * 100.0


@dataclass(frozen=True, slots=True)
class Board:
    """Every forecast pair, biggest predicted rise first, as of the latest stored sale."""

    as_of: date | None
    outlooks: tuple[Outlook, ...]
    sales: int


@dataclass(frozen=True, slots=True)
class _Product:
    id: int
    name: str
    brand: str
    aliases: tuple[str, ...]
    retail: float | None
    release: int | None


@dataclass(frozen=True, slots=True)
class _Row:
    key: str
    product: str
    brand: str | None
    size: str
    price: float
    at: datetime
    extra: Mapping[str, Any]


def confidence(low: float, high: float, price: float) -> str:
    """High, medium or low by how wide the 80% interval is around the price."""
    width = (high - low) / price
    if width <= CONFIDENT_WIDTH[0]:
        return "high"
    return "medium" if width <= CONFIDENT_WIDTH[1] else "low"


def _pct(ratio: float) -> str:
    return f"{(ratio - 1.0) * 100:+.1f}%"


class _Fit:
    """The model fitted on the stored sales, and the catalog pairs' sales grouped for pricing."""

    def __init__(self, rows: Sequence[_Row], products: Sequence[_Product]) -> None:
        by_key: dict[str, _Product] = {}
        for listed in products:
            for key in prices.keys_for(listed.name, listed.aliases):
                by_key.setdefault(key, listed)
        first_day: dict[str, int] = {}
        for row in rows:
            day = row.at.date().toordinal()
            first_day[row.key] = min(day, first_day.get(row.key, day))
        self.sales: list[ModelSale] = []
        self.pairs: dict[int, list[tuple[ModelSale, _Row]]] = defaultdict(list)
        self.products = {listed.id: listed for listed in products}
        for row in rows:
            product = by_key.get(row.key)
            retail = parse_price(str(row.extra.get("retail_price", ""))) or (product.retail if product else None)
            if retail is None:
                continue
            release = parse_day(str(row.extra.get("release_date", ""))) or (product.release if product else None)
            query = Query(
                day=row.at.date().toordinal(),
                brand=row.brand or (product.brand if product else ""),
                name=product.name if product else row.product,
                retail=retail,
                release=release if release is not None else first_day[row.key],
                size=row.size,
            )
            sale = ModelSale(query, row.price)
            self.sales.append(sale)
            if product is not None:
                self.pairs[product.id].append((sale, row))
        self.forecaster = Forecaster(self.sales) if self.sales else None
        self.today = max((sale.query.day for sale in self.sales), default=None)

    def board(self, min_sales: int, threshold_pct: float) -> Board:
        if self.forecaster is None or self.today is None:
            return Board(None, (), 0)
        outlooks = [
            outlook
            for catalog_id, sold in self.pairs.items()
            if len(sold) >= min_sales and max(sale.query.day for sale, _ in sold) >= self.today - ACTIVE_DAYS
            for outlook in [self._outlook(self.forecaster, self.products[catalog_id], sold, threshold_pct)]
        ]
        outlooks.sort(key=lambda outlook: (-outlook.rise_pct, outlook.name))
        return Board(date.fromordinal(self.today), tuple(outlooks), len(self.sales))

    def _outlook(
        self, forecaster: Forecaster, product: _Product, sold: list[tuple[ModelSale, _Row]], threshold_pct: float
    ) -> Outlook:
        assert self.today is not None
        latest = max(sold, key=lambda pair: pair[0].query.day)[0].query
        brand = Counter(sale.query.brand for sale, _ in sold).most_common(1)[0][0]
        labels: dict[str, str] = {}
        for sale, _ in sold:
            labels.setdefault(size_key(sale.query.size), sale.query.size)
        counts = Counter(size_key(sale.query.size) for sale, _ in sold)
        sizes = [labels[key] for key, _ in counts.most_common(SIZES_PER_PAIR)]
        base = replace(latest, brand=brand)
        now, later, lows, highs, rising = [], [], [], [], []
        for size in sizes:
            today = forecaster.predict(replace(base, day=self.today, size=size))
            ahead = forecaster.predict(replace(base, day=self.today + HORIZON_DAYS, size=size))
            now.append(today.price)
            later.append(ahead.price)
            lows.append(ahead.low)
            highs.append(ahead.high)
            if (ahead.price / today.price - 1.0) * 100.0 >= threshold_pct:
                rising.append(size)
        in_30, low, high = statistics.median(later), statistics.median(lows), statistics.median(highs)
        reasons = self._reasons(forecaster, base, sizes, sold)
        return Outlook(
            catalog_id=product.id,
            name=product.name,
            brand=brand,
            today=statistics.median(now),
            in_30=in_30,
            low=low,
            high=high,
            confidence=confidence(low, high, in_30),
            reasons=reasons,
            rising_sizes=tuple(rising),
        )

    def _reasons(
        self, forecaster: Forecaster, base: Query, sizes: list[str], sold: list[tuple[ModelSale, _Row]]
    ) -> tuple[str, ...]:
        assert self.today is not None
        model = forecaster.model
        reasons = []
        history = sorted(
            (prices.Sale(row.at, sale.price, row.size, size_key(row.size)) for sale, row in sold), key=lambda s: s.at
        )
        trend = prices.market(history, base.retail).trend_pct
        if trend is not None:
            reasons.append(f"sales trend {trend:+.1f}% (last 7 days vs the month before)")
        parsed = parse_name(base.name)
        offsets = {size: model.size_offset(base, parsed.family_key, size_key(size), known=True) for size in sizes}
        top = max(offsets, key=lambda size: offsets[size])
        if len(offsets) > 1:
            reasons.append(f"size curve: size {top} sells {_pct(math.exp(offsets[top]))} vs the pair's middle")
        now = replace(base, day=self.today)
        ahead = replace(base, day=self.today + HORIZON_DAYS)
        moved = math.exp(
            model.prior(ahead, parsed.maker, parsed.family_key) - model.prior(now, parsed.maker, parsed.family_key)
        )
        age = self.today - base.release
        family = parsed.family_key or base.brand
        if abs(moved - 1.0) >= 0.005:
            reasons.append(
                f"similar releases ({family}) sell {_pct(moved)} at {age + HORIZON_DAYS} days old vs {age} days"
            )
        else:
            reasons.append(f"similar releases ({family}) hold steady at {age} days old")
        reasons.append(f"{len(sold):,} sales of its own")
        return tuple(reasons)


async def _version(db: Database) -> tuple[Any, ...]:
    """Changes whenever a sale or a catalog entry is added or updated."""
    async with db.read() as session:
        sold = (await session.execute(
            select(func.count(), func.max(PriceObservation.id)).where(PriceObservation.kind == "sale")
        )).one()  # fmt: skip
        catalog = (await session.execute(select(func.count(), func.max(CatalogProduct.updated_at)))).one()
    return (*sold, *catalog)


async def _load(db: Database) -> tuple[list[_Row], list[_Product]]:
    columns = (PriceObservation.product_key, PriceObservation.product, PriceObservation.brand, PriceObservation.size,
               PriceObservation.price, PriceObservation.observed_at, PriceObservation.extra)  # fmt: skip
    catalog = (CatalogProduct.id, CatalogProduct.name, CatalogProduct.brand, CatalogProduct.aliases,
               CatalogProduct.retail, CatalogProduct.release_date)  # fmt: skip
    async with db.read() as session:
        sold = (await session.execute(
            select(*columns).where(PriceObservation.kind == "sale", PriceObservation.size.is_not(None))
        )).all()  # fmt: skip
        listed = (await session.execute(select(*catalog))).all()
    rows = [_Row(r[0], r[1], r[2], r[3], float(r[4]), r[5], r[6] or {}) for r in sold if r[4] and r[4] > 0]
    products = [
        _Product(r[0], r[1], r[2], tuple(r[3] or ()), r[4], r[5].toordinal() if r[5] is not None else None)
        for r in listed
    ]
    return rows, products


def _fit(rows: list[_Row], products: list[_Product], settings: MarketSection) -> Board:
    return _Fit(rows, products).board(settings.detective_min_sales, settings.prediction_threshold_pct)


def prediction_payload(outlook: Outlook, *, event_id: str, as_of: date, now: datetime) -> dict[str, Any]:
    """A ``monitor.event`` payload (the keys of ``bot.monitors.render.change_payload``): the title is the
    pair's name alone, so rules match its words and nothing of the forecast's figures; ``store`` says
    what the forecast is, ``price`` is the predicted 30-day price and ``old_price`` today's, ``sizes``
    the sizes expected to rise."""
    return {
        "event_id": event_id,
        "kind": EVENT_KIND,
        "monitor_id": None,
        "store": f"{STORE}: {outlook.rise_pct:+.1f}% predicted over {HORIZON_DAYS} days from {as_of}",
        "product": {
            "id": f"catalog:{outlook.catalog_id}",
            "title": outlook.name,
            "handle": "",
            "brand": outlook.brand,
            "url": None,
            "image": None,
            "tags": [],
        },
        "sizes": list(outlook.rising_sizes),
        "sizes_in_stock": [],
        "price": round(outlook.in_30),
        "old_price": round(outlook.today),
        "currency": "USD",
        "cart_links": {},
        "occurred_at": now.isoformat(),
    }


class Detective:
    """The cached board and the prediction job."""

    def __init__(self, db: Database, bus: EventBus, settings: MarketSection) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self._cached: tuple[float, tuple[Any, ...], Board] | None = None
        self._lock = asyncio.Lock()
        self._published: set[str] = set()
        self._published_day: date | None = None

    async def board(self) -> Board:
        """The fitted board; refitted when the sales changed and the cached one is older than the TTL
        (or was empty: the first import shows at once)."""
        async with self._lock:
            version = await _version(self.db)
            cached = self._cached
            if cached is not None and (
                cached[1] == version
                or (cached[2].as_of is not None and time.monotonic() - cached[0] < self.settings.detective_cache_s)
            ):
                return cached[2]
            rows, products = await _load(self.db)
            board = await asyncio.to_thread(_fit, rows, products, self.settings)
            self._cached = (time.monotonic(), version, board)
            return board

    async def publish_predictions(self, now: datetime | None = None) -> int:
        """Publish a prediction event per pair past the threshold, once per pair per day; how many."""
        now = now or utcnow()
        today = now.date()
        if self._published_day != today:
            self._published, self._published_day = set(), today
        board = await self.board()
        if board.as_of is None:
            return 0
        count = 0
        for outlook in board.outlooks:
            if outlook.rise_pct < self.settings.prediction_threshold_pct:
                break
            event_id = f"prediction:{outlook.catalog_id}:{today.isoformat()}"
            if event_id in self._published:
                continue
            await self.bus.publish(EVENT_TOPIC, prediction_payload(outlook, event_id=event_id, as_of=board.as_of,
                                                                   now=now))  # fmt: skip
            self._published.add(event_id)
            count += 1
        return count

    async def job(self) -> None:
        await self.publish_predictions()


def _money(value: float) -> str:
    return f"${value:,.0f}"


def render(board: Board, limit: int) -> Reply:
    title = "🕵️ Deadstock Detective"
    if board.as_of is None:
        return Reply(
            title=title, text="No sales in the price table yet: load a history with `snpd prices import FILE`."
        )
    shown = board.outlooks[:limit]
    text = (
        f"Pairs the model expects to rise most over the next {HORIZON_DAYS} days. “Today” is "
        f"{board.as_of.isoformat()}, the latest sale in the price table; figures are medians over each "
        f"pair's most sold sizes, fitted on {board.sales:,} sales."
    )
    if not shown:
        return Reply(title=title, text=text + "\nNo catalog pair has enough recent sales to forecast.")
    fields = []
    for number, outlook in enumerate(shown, start=1):
        value = (
            f"{_money(outlook.today)} → {_money(outlook.in_30)} ({outlook.rise_pct:+.1f}%) · "
            f"80% range {_money(outlook.low)}–{_money(outlook.high)} · confidence {outlook.confidence}\n"
            "Why: " + "; ".join(outlook.reasons)
        )
        fields.append(ReplyField(name=clip(f"{number}. {outlook.name}", 250), value=clip(value, 1000), inline=False))
    buttons = [Button(label=clip(f"💲 {o.name}", 80), action=f"price #{o.catalog_id}") for o in shown[:3]]
    return Reply(title=title, text=text, fields=fields, buttons=buttons, footer="Forecasts, not promises.")


def commands(detective: Detective) -> list[Command]:
    """/detective, bound to this engine's detective."""

    async def show(ctx: Context) -> Reply:
        return render(await detective.board(), detective.settings.detective_pairs)

    return [
        Command(
            name="detective",
            description="The pairs the price model expects to rise most over the next 30 days, and why.",
            handler=show,
        )
    ]
