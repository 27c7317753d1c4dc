"""Ledger idempotency keys for command handlers."""

from __future__ import annotations

from bot.economy.ledger import idempotency_key
from core.context import Context


def request_key(ctx: Context, *parts: object) -> str:
    """A key ending in the platform's own request id ("telegram:812345"), which a redelivered update,
    a retried interaction or a re-sent webhook carries again, so the ledger answers it with the first
    transfer. Where the platform has none (the shell) it ends in this dispatch's reference."""
    return idempotency_key(*parts, ctx.request_id or ctx.reference)
