"""One look at what a monitor watches: fetch, classify, parse. Nothing here touches the database.

An ``Observation`` carries the products whose data changed, the ids seen (when the listing was read
completely, so products that vanished can be told apart from a page that failed), and the caches to
keep for next time. The runner keeps those caches only after it has stored the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from bot.monitors.sources.http_fetch import FetchError, FetchResult, PoliteFetcher, Validators
from bot.monitors.sources.page_watch import PageSnapshot, PageWatcher
from bot.monitors.sources.shopify import Product, ShopifyTarget, Variant, classify, parse_product_js, scan_page

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PageCache:
    validators: Validators
    ids: tuple[str, ...]


@dataclass
class FetchStats:
    """Totals across polls; the benchmark reads the bytes conditional requests saved."""

    requests: int = 0
    fresh: int = 0
    not_modified: int = 0
    same_hash: int = 0
    unchanged_wire_bytes: int = 0
    unchanged_full_bytes: int = 0

    def count(self, result: FetchResult, previous: Validators | None) -> None:
        self.requests += 1
        if result.fresh:
            self.fresh += 1
            return
        if result.not_modified:
            self.not_modified += 1
        else:
            self.same_hash += 1
        self.unchanged_wire_bytes += result.wire_bytes
        self.unchanged_full_bytes += previous.body_size if previous is not None else 0

    @property
    def unchanged_bytes_saved_pct(self) -> float:
        if not self.unchanged_full_bytes:
            return 0.0
        return round(100.0 * (1 - self.unchanged_wire_bytes / self.unchanged_full_bytes), 2)


@dataclass
class Observation:
    password: bool = False
    changed: list[Product] = field(default_factory=list)
    #: every product id present; ``None`` when the listing could not be read to its end
    seen: set[str] | None = None
    pages: dict[int, PageCache] = field(default_factory=dict)
    chunks: dict[str, bytes | None] = field(default_factory=dict)
    #: nothing was parsed: every page was a 304 or a known body
    unchanged: bool = False


async def observe_listing(
    fetcher: PoliteFetcher,
    target: ShopifyTarget,
    pages: Mapping[int, PageCache],
    chunks: Mapping[str, bytes | None],
    *,
    max_pages: int,
    stats: FetchStats,
) -> Observation:
    """Read ``products.json`` page by page until a page comes back empty."""
    seen: list[str] = []
    observation = Observation(unchanged=True)
    previous_ids: tuple[str, ...] | None = None
    complete = False
    for number in range(1, max_pages + 1):
        cached = pages.get(number)
        before = cached.validators if cached else None
        result = await fetcher.get(target.listing_url(number), before)
        stats.count(result, before)
        if result.fresh:
            if classify(result) == "password":
                return Observation(password=True)
            scan = scan_page(result.body or b"", chunks, target.base_url)
            ids = tuple(scan.ids)
            observation.changed.extend(scan.changed)
            observation.chunks.update(scan.chunks)
            observation.unchanged = False
        else:
            ids = cached.ids if cached else ()
        observation.pages[number] = PageCache(result.validators, ids)
        if not ids:
            complete = True
            break
        if ids == previous_ids:
            log.warning("monitor.page_param_ignored", store=target.host, page=number)
            complete = True
            break
        seen.extend(ids)
        previous_ids = ids
    observation.seen = set(seen) if complete else None
    return observation


async def observe_product(
    fetcher: PoliteFetcher, target: ShopifyTarget, pages: Mapping[int, PageCache], *, stats: FetchStats
) -> Observation:
    """One product through ``/products/HANDLE.js``; a 404 means it is not (or no longer) live."""
    cached = pages.get(1)
    before = cached.validators if cached else None
    try:
        result = await fetcher.get(target.product_js_url(), before, accept="application/json, text/javascript")
    except FetchError as exc:
        if exc.status == 404:
            return Observation(seen=set(), pages={1: PageCache(Validators(), ())})
        raise
    stats.count(result, before)
    if not result.fresh:
        return Observation(
            seen=set(cached.ids) if cached else None,
            pages={1: cached or PageCache(result.validators, ())},
            unchanged=True,
        )
    if classify(result) == "password":
        return Observation(password=True)
    product = parse_product_js(result.body or b"", target.base_url)
    return Observation(changed=[product], seen={product.id}, pages={1: PageCache(result.validators, (product.id,))})


def product_from_page(snapshot: PageSnapshot) -> Product:
    variants = tuple(Variant(o.key, o.size, o.available, o.price) for o in snapshot.offers)
    return Product(
        id="page",
        title=snapshot.title or snapshot.url,
        handle=snapshot.url.rstrip("/").rsplit("/", 1)[-1],
        vendor=snapshot.brand,
        product_type="",
        tags=(),
        image=snapshot.image,
        url=snapshot.url,
        variants=variants,
    )


async def observe_page(watcher: PageWatcher, url: str, selectors: Mapping[str, str]) -> tuple[Observation, str | None]:
    """A rendered page as a one-product observation, plus the currency the page declares."""
    snapshot = await watcher.snapshot(url, selectors)
    return Observation(changed=[product_from_page(snapshot)], seen={"page"}), snapshot.currency
