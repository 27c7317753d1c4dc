"""/shop list, /shop buy and /shop add.

Each buy button carries a fresh nonce in its action, and the purchase's idempotency key is built
from the buyer and that nonce: a double click (or Discord redelivering the press) buys once and the
second press is told so.
"""

from __future__ import annotations

import secrets

from bot.economy.commands.keys import request_key
from bot.economy.config import ITEM_KINDS
from bot.economy.fulfilment import Item, PurchaseView
from bot.economy.ledger import idempotency_key
from bot.economy.runtime import EconomyRuntime
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.replies import MAX_ACTION_BYTES, Button, Reply, ReplyField

_KIND_LABEL = {
    "role": "Discord role",
    "raffle_entry": "raffle entry",
    "premium_feed": "premium feed access",
    "flair": "flair",
}
_MAX_BUTTONS = 10


def describe(item: Item) -> str:
    what = _KIND_LABEL.get(item.kind, item.kind)
    if item.kind == "premium_feed":
        what += f" to `{item.value}`"
    elif item.kind == "raffle_entry":
        what += f" to raffle #{item.value.lstrip('#')}"
    elif item.kind == "flair":
        what += f" {item.value}"
    if item.days and item.kind in ("role", "premium_feed", "flair"):
        what += f" for {item.days} days"
    return what


def commands(runtime: EconomyRuntime) -> list[Command]:
    shop = runtime.shop
    economy = runtime.economy

    async def list_items(ctx: Context) -> Reply:
        items = await shop.items()
        if not items:
            return Reply(title="🛒 Shop", text="The shop is empty. Admins add items with `/shop add`.")
        fields = [
            ReplyField(name=f"{item.name} — {economy.money(item.price)}", value=f"`{item.sku}` · {describe(item)}")
            for item in items
        ]
        buttons = []
        for item in items[:_MAX_BUTTONS]:
            action = f"/shop buy {item.sku} nonce:{secrets.token_hex(5)}"
            if len(action.encode()) <= MAX_ACTION_BYTES:
                buttons.append(Button(label=f"Buy {item.name}"[:80], action=action))
        return Reply(
            title="🛒 Shop",
            text=f"Spend your {economy.currency}. Your balance: {economy.money(await economy.balance(ctx.member.id))}.",
            fields=fields,
            buttons=buttons,
            footer="Or type `/shop buy SKU`.",
        )

    async def buy(ctx: Context, item: str, nonce: str | None = None) -> Reply:
        found = await shop.find(item)
        member = await economy.member(ctx.member.id)
        key = idempotency_key("buy", member.id, nonce) if nonce else request_key(ctx, "buy", member.id)
        outcome = await shop.buy(member, found, key)
        if outcome.replayed:
            return Reply(
                title="🛒 Already done",
                text=f"This button already bought **{outcome.purchase.item_name}** (purchase #{outcome.purchase.id}): "
                + _status(outcome.purchase, economy.money(outcome.purchase.price)),
                ephemeral=True,
            )
        return _receipt(
            outcome.purchase, economy.money(outcome.purchase.price), economy.money(await economy.balance(member.id))
        )

    async def add(
        ctx: Context, sku: str, name: str, kind: str, price: int, value: str, days: int | None = None
    ) -> Reply:
        actor = await economy.member(ctx.member.id)
        item = await shop.add(actor, sku, name, kind, price, value, days)
        return Reply(
            title="🛒 Item added",
            text=f"**{item.name}** (`{item.sku}`) — {describe(item)} — {economy.money(item.price)}",
        )

    return [
        Command(name="shop list", description=f"What you can buy with {economy.currency}.", handler=list_items),
        Command(
            name="shop buy",
            description=f"Buy a shop item with {economy.currency}.",
            handler=buy,
            params=(
                Param("item", "Item sku or name, see /shop list", max_length=100),
                Param("nonce", "Set by buy buttons so a double click buys once", required=False, max_length=16),
            ),
            private=True,
        ),
        Command(
            name="shop add",
            description="Add a shop item: a role, raffle entry, premium feed access or flair.",
            handler=add,
            params=(
                Param("sku", "Short id, e.g. og-role (letters, digits, dashes)", max_length=24),
                Param("name", "Name shown in the shop", max_length=100),
                Param("kind", "What buying it gives", choices=ITEM_KINDS),
                Param("price", f"Price in {economy.currency}", type=ParamType.INTEGER, min_value=1),
                Param("value", "Role id, raffle number, feed name or flair text", max_length=100),
                Param(
                    "days",
                    "How long it lasts (empty: for good)",
                    type=ParamType.INTEGER,
                    required=False,
                    min_value=1,
                    max_value=3650,
                ),
            ),
            permission=Permission.ADMIN,
        ),
    ]


def _status(purchase: PurchaseView, price: str) -> str:
    if purchase.status == "fulfilled":
        return "delivered."
    if purchase.status == "refunded":
        return f"it couldn't be delivered ({purchase.failure}), so {price} went back to you."
    return "it is being delivered."


def _receipt(purchase: PurchaseView, price: str, balance: str) -> Reply:
    if purchase.status == "refunded":
        return Reply(
            title="↩️ Refunded",
            text=f"**{purchase.item_name}** couldn't be delivered: {purchase.failure}. {price} went back to you.",
            footer=f"Your balance: {balance}",
            ephemeral=True,
        )
    extra = ""
    if purchase.days and purchase.kind in ("role", "premium_feed", "flair"):
        extra = f" It lasts {purchase.days} days."
    return Reply(
        title="🛍️ Bought",
        text=f"**{purchase.item_name}** for {price} (purchase #{purchase.id}): " + _status(purchase, price) + extra,
        footer=f"Your balance: {balance}",
        ephemeral=True,
    )
