"""Turn a change into the ``monitor.event`` bus payload, and a payload into a feed ``Reply``.

The Reply is built from the payload alone, so an event that a crash left unpublished in the outbox is
posted exactly as it would have been.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.monitors.diff import Change
from bot.monitors.sources.shopify import Product, cart_link
from core.markup import clip, escape
from core.replies import Button, Reply, ReplyField

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}
_TITLES = {
    "restock": "🟢 Restock",
    "new_product": "🆕 New",
    "sold_out": "🔴 Sold out",
    "price_change": "💲 Price change",
    "password_up": "🔒 Password page up",
    "password_down": "🔓 Store open",
}
_COLORS = {
    "restock": 0x2ECC71,
    "new_product": 0x3498DB,
    "sold_out": 0xE74C3C,
    "price_change": 0xF1C40F,
    "password_up": 0x95A5A6,
    "password_down": 0x9B59B6,
}
FIELD_LIMIT = 1024
IN_STORE = "📍 in store"
MAX_LINK_FIELDS = 4


def product_dict(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "brand": product.vendor,
        "url": product.url,
        "image": product.image,
        "tags": list(product.tags),
    }


def change_payload(
    change: Change,
    *,
    event_id: str,
    monitor_id: int,
    store: str,
    base_url: str,
    currency: str | None,
    occurred_at: datetime,
    carts: bool,
    location: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The ``monitor.event`` payload. Its shape is a contract with the alerts slice: keep it exact.

    ``location`` (``{"lat": .., "lon": ..}``) is present only for a physical shop's monitor: alert rules
    with ``near`` judge distance by it, and ignore events without one (online drops).
    """
    in_stock = [v for v in change.product.variants if v.available]
    payload: dict[str, Any] = {
        "event_id": event_id,
        "kind": change.kind,
        "monitor_id": monitor_id,
        "store": store,
        "product": product_dict(change.product),
        "sizes": _unique(v.size for v in change.variants),
        "sizes_in_stock": _unique(v.size for v in in_stock),
        "price": change.price,
        "old_price": change.old_price,
        "currency": currency,
        "cart_links": {v.size: cart_link(base_url, v.id) for v in in_stock} if carts else {},
        "occurred_at": occurred_at.isoformat(),
    }
    if location is not None:
        payload["location"] = {"lat": location[0], "lon": location[1]}
    return payload


def store_payload(
    kind: str, *, event_id: str, monitor_id: int, store: str, base_url: str, name: str, occurred_at: datetime
) -> dict[str, Any]:
    """A password page going up or down is about the store, so ``product`` describes the store."""
    return {
        "event_id": event_id,
        "kind": kind,
        "monitor_id": monitor_id,
        "store": store,
        "product": {
            "id": "",
            "title": name,
            "handle": "",
            "brand": "",
            "url": base_url + "/",
            "image": None,
            "tags": [],
        },
        "sizes": [],
        "sizes_in_stock": [],
        "price": None,
        "old_price": None,
        "currency": None,
        "cart_links": {},
        "occurred_at": occurred_at.isoformat(),
    }


def _chunks(lines: list[str], limit: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            chunks.append(current)
            current = clip(line, limit)
        else:
            current = clip(candidate, limit)
    if current:
        chunks.append(current)
    return chunks


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def money(amount: float | None, currency: str | None) -> str:
    if amount is None:
        return "n/a"
    symbol = _SYMBOLS.get(currency or "USD")
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def role_id(role: str | None) -> int | None:
    """A Discord role id or ``<@&id>`` mention, as the id the frontend pings."""
    digits = (role or "").strip().removeprefix("<@&").removesuffix(">")
    return int(digits) if digits.isdigit() else None


def render(payload: dict[str, Any], *, role: str | None = None, max_buttons: int = 25) -> Reply:
    kind = payload["kind"]
    product = payload["product"]
    currency = payload.get("currency")
    in_stock: list[str] = payload["sizes_in_stock"]
    sizes: list[str] = payload["sizes"]
    carts: dict[str, str] = payload["cart_links"]
    lines = [_summary(kind, sizes, in_stock, payload)]
    fields: list[ReplyField] = []
    if kind not in ("password_up", "password_down"):
        fields.append(ReplyField(name="Price", value=money(payload.get("price"), currency)))
        fields.append(ReplyField(name="Store", value=_store(payload)))
        if product.get("brand"):
            fields.append(ReplyField(name="Brand", value=escape(product["brand"])))
        fields.append(
            ReplyField(
                name="Sizes in stock", value=clip(escape(", ".join(in_stock)) or "none", FIELD_LIMIT), inline=False
            )
        )
    # sizes the event is about come first, so they keep a button when there are more than fit
    ordered = [s for s in sizes if s in carts] + [s for s in carts if s not in sizes]
    buttons = [Button(label=f"🛒 {size}", url=carts[size]) for size in ordered[:max_buttons]]
    if len(ordered) > max_buttons:
        # more sizes than buttons fit: every link also goes in fields, each within the field limit
        links = [f"{size}: {carts[size]}" for size in ordered]
        for index, chunk in enumerate(_chunks(links, FIELD_LIMIT)[:MAX_LINK_FIELDS]):
            fields.append(ReplyField(name="Cart links" if index == 0 else "More cart links", value=chunk, inline=False))
    if not buttons and kind != "sold_out" and product.get("url"):
        buttons.append(Button(label="Open", url=product["url"]))
    # titles, brands and sizes come from the store: text we don't control, so it is escaped
    title = f"{_TITLES[kind]}: {escape(product['title'])}" if product.get("title") else _TITLES[kind]
    when = payload["occurred_at"][11:19]
    return Reply(
        title=clip(title, 256, "…"),
        text="\n".join(lines),
        fields=fields,
        image_url=product.get("image"),
        url=product.get("url") or None,
        buttons=buttons,
        footer=f"{payload['store']} · monitor #{payload['monitor_id']} · {when} UTC",
        color=_COLORS[kind],
        mention_role_id=role_id(role),
    )


def _store(payload: dict[str, Any]) -> str:
    """The store's name, marked when the monitor watches a physical shop (its events carry a location)."""
    location = payload.get("location")
    if not location:
        return str(payload["store"])
    return f"{payload['store']} · {IN_STORE} ({location['lat']:.4f}, {location['lon']:.4f})"


def _summary(kind: str, sizes: list[str], in_stock: list[str], payload: dict[str, Any]) -> str:
    listed = escape(", ".join(sizes))
    if kind == "restock":
        return f"Back in stock: **{listed}**" if sizes else "Back in stock."
    if kind == "new_product":
        return f"Just listed, in stock: **{listed}**" if sizes else "Just listed, not in stock yet: watch this one."
    if kind == "sold_out":
        left = f" Still in stock: {escape(', '.join(in_stock))}." if in_stock else " Every size is gone."
        return f"Sold out: **{listed}**.{left}"
    if kind == "price_change":
        old, new = payload.get("old_price"), payload.get("price")
        arrow = "📉 dropped" if (old or 0) > (new or 0) else "📈 rose"
        return f"Price {arrow}: {money(old, payload.get('currency'))} → **{money(new, payload.get('currency'))}**"
    if kind == "password_up":
        return "The store went behind its password page: a drop may be coming."
    return "The password page is down: the store is open."
