"""What an alert and a digest look like: neutral ``Reply`` objects every frontend can render."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.alerts.sizes import event_size
from core.replies import Button, Reply, ReplyField

KIND_LABEL = {
    "restock": "Restock",
    "new_product": "New product",
    "price_drop": "Price drop",
    "price_rise": "Price change",
    "drop_reminder": "Drop reminder",
    "sold_out": "Sold out",
    "trade_match": "Trade match",
    "prediction": "Predicted rise",
}
HIGH_COLOR = 0xE67E22
COLOR = 0x2ECC71


def summary(payload: Mapping[str, Any]) -> str:
    product = payload.get("product") or {}
    price = payload.get("price")
    shown = f" ${price:g}" if isinstance(price, int | float) else ""
    kind = KIND_LABEL.get(str(payload.get("kind")), str(payload.get("kind")))
    return f"{kind}: {product.get('title', '?')} at {payload.get('store', '?')}{shown}"[:300]


def alert_reply(
    payload: Mapping[str, Any], *, rule_id: int, rule_name: str, wanted: Sequence[str], high: bool, deal: float | None
) -> Reply:
    product = payload.get("product") or {}
    kind = KIND_LABEL.get(str(payload.get("kind")), "Alert")
    sizes = [str(s) for s in (payload.get("sizes_in_stock") or payload.get("sizes") or [])]
    wanted_set = set(wanted)
    shown_sizes = [f"**{s}**" if event_size(s) in wanted_set else s for s in sizes][:30]
    fields = [ReplyField(name="Store", value=str(payload.get("store", "?")))]
    price = payload.get("price")
    if isinstance(price, int | float):
        old = payload.get("old_price")
        was = f" (was ${old:g})" if isinstance(old, int | float) and old != price else ""
        fields.append(ReplyField(name="Price", value=f"${price:g}{was}"))
    if deal is not None:
        fields.append(ReplyField(name="Deal", value=f"{deal:.0f}% under resale"))
    if shown_sizes:
        fields.append(ReplyField(name="Sizes", value=", ".join(shown_sizes), inline=False))
    carts: Mapping[str, str] = payload.get("cart_links") or {}
    buttons = [
        Button(label=f"Cart {size}", url=url)
        for size, url in carts.items()
        if (not wanted_set or event_size(size) in wanted_set) and isinstance(url, str) and url.startswith("http")
    ][:3]
    return Reply(
        title=f"{'🚨' if high else '🔔'} {kind}: {product.get('title', 'product')}"[:256],
        fields=fields,
        url=product.get("url") or None,
        image_url=product.get("image") or None,
        buttons=buttons,
        footer=f"Alert #{rule_id} {rule_name} · /alerts pause {rule_id}"[:200],
        color=HIGH_COLOR if high else COLOR,
    )


def digest_reply(period: str, lines: Sequence[str], *, more: int) -> Reply:
    text = "\n".join(f"• {line}" for line in lines)
    if more:
        text += f"\n…and {more} more."
    return Reply(
        title=f"🗞️ Your alert digest ({period})",
        text=text,
        footer="Over your daily cap. Change it with /cap, or the schedule with /digest.",
    )
