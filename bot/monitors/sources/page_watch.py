"""Product pages that only show stock after JavaScript runs, read in Debian's chromium via Playwright.

Stock and price come from the page's schema.org JSON-LD (``Product`` / ``ProductGroup`` with
``Offer.availability``), or, when an admin gives CSS selectors, from the elements they point at:
``stock`` (in stock while a visible, enabled element matches), ``sizes`` (one element per size; a
disabled or "sold out" element is out of stock), ``price`` and ``title``.

One browser is launched on first use and reused by every poll; each poll gets a fresh context (no
cookies carried over) whose every request goes through ``BrowserGate``: only public addresses, checked
where they are dialled, and no images, media or fonts, which the monitor never needs.

Chromium keeps its sandbox. As root it has none (it needs ``--no-sandbox`` there), so with
``chromium_user`` set the browser runs as that unprivileged user through ``setpriv``; as root without
it the browser runs unsandboxed and a warning says so. Errors never carry the page's own text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp.abc import AbstractResolver

from bot.monitors.sources.browser_gate import BrowserGate
from bot.monitors.sources.netguard import AddressPolicy

log = structlog.get_logger(__name__)

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    # Anything that escapes route interception (a WebSocket, WebRTC, a preconnect) meets a dead proxy
    # instead of the network: every request the monitor needs is fetched by ``BrowserGate``.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
SELECTOR_KEYS = ("stock", "sizes", "price", "title")
_IN_STOCK = {"instock", "limitedavailability", "onlineonly", "instoreonly"}
_BLOCKED_TITLES = ("just a moment", "attention required", "access denied", "are you a robot", "captcha")
_NUMBER = re.compile(r"\d[\d.,\s]*")

_EXTRACT_JS = """
(sel) => {
  const all = (s) => { try { return s ? Array.from(document.querySelectorAll(s)) : []; } catch (e) { return null; } };
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const off = (e) => e.disabled || e.getAttribute('aria-disabled') === 'true'
    || /sold|unavailable|disabled|out-of-stock|oos/i.test(e.className || '');
  const meta = (p) => { const m = document.querySelector(`meta[property="${p}"], meta[name="${p}"]`);
    return m ? m.getAttribute('content') : null; };
  const stock = all(sel.stock), sizes = all(sel.sizes), price = all(sel.price), title = all(sel.title);
  return {
    title: document.title || '', ogTitle: meta('og:title'), ogImage: meta('og:image'),
    currency: meta('product:price:currency') || meta('og:price:currency'),
    ld: Array.from(document.querySelectorAll('script[type="application/ld+json"]')).map(e => e.textContent),
    bad: [stock, sizes, price, title].some(x => x === null),
    stock: sel.stock && stock ? stock.some(e => visible(e) && !off(e)) : null,
    sizes: sel.sizes && sizes ? sizes.map(e => ({text: (e.textContent || e.value || '').trim(), off: off(e)})) : null,
    price: sel.price && price && price.length ? price[0].textContent : null,
    customTitle: sel.title && title && title.length ? title[0].textContent.trim() : null,
    text: document.body ? document.body.innerText.slice(0, 3000) : '',
  };
}
"""


class PageWatchError(Exception):
    """``kind``: ``blocked``, ``rate_limited``, ``server``, ``network``, ``http`` or ``bad_body``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Offer:
    key: str
    size: str
    available: bool
    price: float | None


@dataclass(frozen=True)
class PageSnapshot:
    url: str
    title: str
    brand: str
    image: str | None
    currency: str | None
    offers: tuple[Offer, ...]
    #: ``json-ld`` or ``selectors``
    source: str


def chromium_missing(path: str = DEFAULT_CHROMIUM) -> str | None:
    """Why the browser can't run here, or ``None`` when it can."""
    if not Path(path).exists():
        return f"{path} is not installed (apt-get install chromium)"
    if not os.access(path, os.X_OK):
        return f"{path} is not executable"
    return None


def parse_selectors(text: str | None) -> dict[str, str]:
    """``stock=button.add:not([disabled]); price=.price`` → a dict. Raises ``ValueError`` for the user."""
    selectors: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, found, value = part.partition("=")
        key = key.strip().lower()
        if not found or not value.strip():
            raise ValueError(f"`{part.strip()}`: write selectors as `stock=CSS; price=CSS`")
        if key not in SELECTOR_KEYS:
            raise ValueError(f"unknown selector `{key}`; use {', '.join(SELECTOR_KEYS)}")
        selectors[key] = value.strip()
    return selectors


def parse_price(text: Any) -> float | None:
    """``$1,299.00``, ``1.299,00 €``, ``189`` or a number → a float; ``None`` if there is no number."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = _NUMBER.search(str(text or ""))
    if match is None:
        return None
    raw = match.group(0).replace(" ", "").rstrip(".,")
    if "," in raw and "." in raw:
        decimal = "," if raw.rfind(",") > raw.rfind(".") else "."
        raw = raw.replace("." if decimal == "," else ",", "").replace(decimal, ".")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = f"{head.replace(',', '')}.{tail}" if len(tail) == 2 else raw.replace(",", "")
    try:
        return float(raw)
    except ValueError:
        return None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in node:
                yield from _walk(node[key])


def _types(node: Mapping[str, Any]) -> set[str]:
    value = node.get("@type", ())
    return {str(t).rsplit("/", 1)[-1] for t in (value if isinstance(value, list) else [value])}


def _available(value: Any) -> bool:
    return str(value or "").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() in _IN_STOCK


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("url") or "")
    if isinstance(value, list):
        return _text(value[0]) if value else ""
    return str(value or "")


def _offers(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = node.get("offers")
    found: list[dict[str, Any]] = []
    for offer in raw if isinstance(raw, list) else [raw] if raw else []:
        if not isinstance(offer, dict):
            continue
        nested = offer.get("offers")
        if nested:
            found.extend(o for o in (nested if isinstance(nested, list) else [nested]) if isinstance(o, dict))
        else:
            found.append(offer)
    return found


def offers_from_json_ld(texts: list[str]) -> tuple[dict[str, Any], list[Offer], str | None] | None:
    """The first schema.org product in the page's JSON-LD blocks: its node, offers and currency."""
    for text in texts:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        for node in _walk(data):
            kinds = _types(node)
            if "ProductGroup" in kinds and isinstance(node.get("hasVariant"), list):
                offers, currency = [], None
                for index, variant in enumerate(node["hasVariant"]):
                    if not isinstance(variant, dict):
                        continue
                    for offer in _offers(variant)[:1]:
                        size = _text(variant.get("size")) or _text(variant.get("name")) or str(index + 1)
                        key = str(variant.get("sku") or offer.get("sku") or size)
                        offers.append(
                            Offer(key, size, _available(offer.get("availability")), parse_price(offer.get("price")))
                        )
                        currency = currency or offer.get("priceCurrency")
                return node, offers, currency
            if "Product" in kinds and node.get("offers"):
                raw_offers = _offers(node)
                offers = []
                for index, offer in enumerate(raw_offers):
                    offered = offer.get("itemOffered")
                    item: dict[str, Any] = offered if isinstance(offered, dict) else {}
                    size = (
                        _text(offer.get("size") or item.get("size"))
                        or (_text(offer.get("name")) if len(raw_offers) > 1 else "")
                        or ("One Size" if len(raw_offers) == 1 else str(index + 1))
                    )
                    key = str(offer.get("sku") or item.get("sku") or size)
                    price = parse_price(offer.get("price") if offer.get("price") is not None else offer.get("lowPrice"))
                    offers.append(Offer(key, size, _available(offer.get("availability")), price))
                outer = node.get("offers")
                currency = next(
                    (
                        o.get("priceCurrency")
                        for o in [*raw_offers, *(outer if isinstance(outer, list) else [outer])]
                        if isinstance(o, dict) and o.get("priceCurrency")
                    ),
                    None,
                )
                return node, offers, currency
    return None


class PageWatcher:
    def __init__(
        self,
        *,
        executable_path: str = DEFAULT_CHROMIUM,
        timeout_s: float = 20.0,
        settle_s: float = 3.0,
        allow_private: bool = False,
        also_allow: tuple[str, ...] = (),
        chromium_user: str = "",
        resolver: AbstractResolver | None = None,
    ) -> None:
        """``allow_private``/``also_allow`` widen the address policy (demo, tests); ``resolver`` is the
        DNS lookup the guard wraps; ``chromium_user`` is who runs the browser when the bot is root."""
        self.executable_path = executable_path
        self.chromium_user = chromium_user
        self.gate = BrowserGate(AddressPolicy.build(allow_private, also_allow), timeout_s=timeout_s, resolver=resolver)
        self.sandboxed = False
        self._wrapper_dir: str | None = None
        self.timeout_ms = timeout_s * 1000
        self.settle_ms = settle_s * 1000
        self._playwright: Any = None
        self._browser: Any = None
        self._lock = asyncio.Lock()
        self.launches = 0

    async def _ensure_browser(self) -> Any:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            missing = chromium_missing(self.executable_path)
            if missing:
                raise PageWatchError("network", f"browser unavailable: {missing}")
            from playwright.async_api import async_playwright

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            args = list(CHROMIUM_ARGS)
            executable = self.executable_path
            self.sandboxed = True
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                if self.chromium_user:
                    executable = self._as_user(self.chromium_user)
                else:
                    args.insert(0, "--no-sandbox")
                    self.sandboxed = False
                    log.warning("page_watch.unsandboxed", hint="running as root: set [monitors] chromium_user")
            self._browser = await self._playwright.chromium.launch(executable_path=executable, headless=True, args=args)
            self.launches += 1
            log.info("page_watch.browser_launched", launches=self.launches, sandboxed=self.sandboxed)
            return self._browser

    async def snapshot(self, url: str, selectors: Mapping[str, str] | None = None) -> PageSnapshot:
        from playwright.async_api import Error as PlaywrightError

        chosen = {key: value for key, value in (selectors or {}).items() if key in SELECTOR_KEYS}
        browser = await self._ensure_browser()
        refused_before = self.gate.refused
        context = await browser.new_context(user_agent=None, java_script_enabled=True, service_workers="block")
        try:
            await context.route("**/*", self.gate.handle)
            page = await context.new_page()
            try:
                response = await page.goto(url, wait_until="load", timeout=self.timeout_ms)
            except PlaywrightError as exc:
                log.info("page_watch.load_failed", error=_short(str(exc)))
                raise PageWatchError("network", _load_failure(self.gate.refused > refused_before)) from None
            if response is not None:
                _check_status(response.status)
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state("networkidle", timeout=self.settle_ms)
            data = await page.evaluate(_EXTRACT_JS, chosen)
            if not (data["ld"] or data["bad"] or _selectors_hit(data) or _looks_blocked(data)):
                with contextlib.suppress(PlaywrightError):
                    await page.wait_for_function(_READY_JS, arg=chosen, timeout=self.settle_ms)
                data = await page.evaluate(_EXTRACT_JS, chosen)
        except PlaywrightError as exc:
            log.info("page_watch.browser_error", error=_short(str(exc)))
            raise PageWatchError("network", "the browser could not read the page") from None
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.close()
        return _read(url, data, chosen)

    async def close(self) -> None:
        from playwright.async_api import Error as PlaywrightError

        with contextlib.suppress(PlaywrightError):
            if self._browser is not None:
                await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = None
        self._playwright = None
        await self.gate.close()
        if self._wrapper_dir is not None:
            shutil.rmtree(self._wrapper_dir, ignore_errors=True)
            self._wrapper_dir = None

    def _as_user(self, user: str) -> str:
        """A launcher that hands the profile Playwright made to ``user`` and runs chromium as that
        user, so the browser keeps its sandbox while the bot runs as root."""
        import pwd

        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise PageWatchError("network", f"browser unavailable: no user `{user}` (chromium_user)") from None
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise PageWatchError("network", "browser unavailable: setpriv is not installed (util-linux)")
        if self._wrapper_dir is None:
            self._wrapper_dir = tempfile.mkdtemp(prefix="snpd-chromium-")
        script = Path(self._wrapper_dir) / "chromium-as-user"
        script.write_text(
            "#!/bin/sh\n"
            'for arg in "$@"; do case "$arg" in --user-data-dir=*) '
            f'chown -R {entry.pw_uid}:{entry.pw_gid} "${{arg#--user-data-dir=}}"; '
            'profile="${arg#--user-data-dir=}";; esac; done\n'
            f"exec {setpriv} --reuid={entry.pw_uid} --regid={entry.pw_gid} --clear-groups "
            f'env HOME="$profile" {self.executable_path} "$@"\n'
        )
        script.chmod(stat.S_IRWXU)
        return str(script)


_READY_JS = """
(sel) => !!(document.querySelector('script[type="application/ld+json"]')
  || Object.values(sel).some(s => { try { return document.querySelector(s); } catch (e) { return false; } }))
"""


def _load_failure(refused: bool) -> str:
    """One message per cause the admin can act on; never which port or how the connection failed."""
    return "not a public internet address" if refused else "the page did not load"


def _check_status(status: int) -> None:
    if status == 429:
        raise PageWatchError("rate_limited", "rate limited (HTTP 429)")
    if status in (403, 430):
        raise PageWatchError("blocked", f"blocked by the site (HTTP {status})")
    if status >= 500:
        raise PageWatchError("server", f"site error (HTTP {status})")
    if status >= 400:
        raise PageWatchError("http", f"HTTP {status}")


def _selectors_hit(data: Mapping[str, Any]) -> bool:
    return bool(data.get("stock") or data.get("sizes") or data.get("price"))


def _looks_blocked(data: Mapping[str, Any]) -> bool:
    lowered = (str(data.get("title") or "") + " " + str(data.get("text") or "")[:500]).lower()
    return any(marker in lowered for marker in _BLOCKED_TITLES)


def _short(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "browser error"


def _read(url: str, data: Mapping[str, Any], selectors: Mapping[str, str]) -> PageSnapshot:
    if data.get("bad"):
        raise PageWatchError("bad_body", "a CSS selector is not valid")
    page_title = str(data.get("title") or "")
    if _looks_blocked(data):
        raise PageWatchError("blocked", "captcha or bot check instead of the page")
    found = offers_from_json_ld(list(data.get("ld") or []))
    node: Mapping[str, Any] = found[0] if found else {}
    title = str(data.get("customTitle") or node.get("name") or data.get("ogTitle") or page_title).strip()
    image = _text(node.get("image")) or data.get("ogImage") or None
    currency = (found[2] if found else None) or data.get("currency")
    price = parse_price(data.get("price")) if data.get("price") is not None else None
    if selectors.get("sizes") and data.get("sizes") is not None:
        offers = tuple(
            Offer(item["text"], item["text"], not item["off"], price) for item in data["sizes"] if item["text"]
        )
        return PageSnapshot(url, title, _text(node.get("brand")), image, currency, offers, "selectors")
    if selectors.get("stock"):
        fallback = found[1][0].price if found and found[1] else None
        offer = Offer("one-size", "One Size", bool(data.get("stock")), price if price is not None else fallback)
        return PageSnapshot(url, title, _text(node.get("brand")), image, currency, (offer,), "selectors")
    if found is None:
        raise PageWatchError("bad_body", "no schema.org Product offer on the page; give CSS selectors")
    offers = tuple(
        Offer(o.key, o.size, o.available, price if price is not None and o.price is None else o.price) for o in found[1]
    )
    return PageSnapshot(url, title, _text(node.get("brand")), image, currency, offers, "json-ld")
