"""A database as main created it before every slice kept its own migrations (commit b3c49d2), with
rows in every table: the starting point an existing install upgrades from.

Rows go in through reflected tables, in the form the columns store them (naive UTC datetimes), so
nothing here depends on today's models.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection

OLD_MIGRATIONS = Path(__file__).parent / "old_main_migrations"
#: what ``alembic_version`` held on every database the old main created
OLD_HEADS = ["0003_conversations", "0100_economy", "0201_monitor_location", "0300_alerts"]

T = datetime(2026, 11, 20, 12, 30, 15, 123456)
LATER = T + timedelta(days=30)


def create(connection: Connection) -> list[str]:
    """Run the frozen revisions on ``connection``; return the heads the database is at."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(OLD_MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")
    return sorted(MigrationContext.configure(connection).get_current_heads())


def _system_account(connection: Connection, metadata: MetaData, code: str) -> int:
    accounts = metadata.tables["economy_accounts"]
    account_id: int = connection.execute(select(accounts.c.id).where(accounts.c.code == code)).scalar_one()
    return account_id


def rows(connection: Connection, metadata: MetaData) -> dict[str, list[dict[str, Any]]]:
    """One or more rows for every table the old main had, in foreign-key order."""
    mint = _system_account(connection, metadata, "mint")
    shop = _system_account(connection, metadata, "shop")
    pot = _system_account(connection, metadata, "raffle_pot")
    event = {"kind": "restock", "product": "Nike Dunk Low Panda", "sizes": ["9", "10"], "price": 110.0}
    return {
        "members": [
            _member(1, "Ada", merged_into=None),
            _member(2, "Bob", merged_into=None),
            _member(3, "Bob on Telegram", merged_into=2),
        ],
        "identities": [
            {
                "id": 1,
                "member_id": 1,
                "platform": "discord",
                "external_id": "1001",
                "handle": "ada",
                "secret_address": None,
                "linked_at": T,
            },
            {
                "id": 2,
                "member_id": 2,
                "platform": "sms",
                "external_id": "phone-hash-2",
                "handle": "+1•••42",
                "secret_address": "gAAAAB-encrypted-number",
                "linked_at": T,
            },
        ],
        "link_codes": [
            {
                "code": "K7Q2M9",
                "member_id": 1,
                "platform": "telegram",
                "created_at": T,
                "expires_at": T + timedelta(minutes=10),
                "used_at": None,
            },
        ],
        "feed_bindings": [
            {
                "id": 1,
                "feed": "restocks",
                "platform": "discord",
                "target_key": "discord:4242",
                "target": {"channel_id": "4242", "role": "dunks"},
                "created_by": 1,
                "created_at": T,
            },
        ],
        "sms_consent": [
            {"phone_hash": "phone-hash-9", "opted_out_at": T, "reason": "STOP", "opted_in_at": None, "updated_at": T},
        ],
        "conversations": [
            {
                "platform": "telegram",
                "chat_id": "c-77",
                "user_id": "u-77",
                "command": "alerts add",
                "step": 2,
                "answers": {"name": "dunks", "keywords": "dunk low"},
                "fixing": False,
                "version": 3,
                "expires_at": LATER,
            },
        ],
        "economy_accounts": [
            {"id": 10, "member_id": 1, "code": None, "balance": 450, "allow_negative": False, "created_at": T},
            {"id": 11, "member_id": 2, "code": None, "balance": 0, "allow_negative": False, "created_at": T},
        ],
        "economy_transfers": [
            _transfer(1, "grant:ada", "grant", mint, 10, 600),
            _transfer(2, "purchase:ada:1", "purchase", 10, shop, 100),
            _transfer(3, "raffle:1:ada", "raffle_entry", 10, pot, 50),
        ],
        "economy_shop_items": [
            {
                "id": 1,
                "sku": "VIP-30",
                "name": "VIP role, 30 days",
                "kind": "role",
                "price": 100,
                "value": "vip",
                "days": 30,
                "active": True,
                "created_by": 1,
                "created_at": T,
            },
        ],
        "economy_purchases": [
            {
                "id": 1,
                "key": "purchase:ada:1",
                "member_id": 1,
                "sku": "VIP-30",
                "item_name": "VIP role, 30 days",
                "kind": "role",
                "value": "vip",
                "days": 30,
                "price": 100,
                "status": "fulfilled",
                "charge_transfer_id": 2,
                "failure": None,
                "created_at": T,
                "updated_at": T,
            },
        ],
        "economy_entitlements": [
            {
                "id": 1,
                "purchase_id": 1,
                "member_id": 1,
                "kind": "role",
                "value": "vip",
                "starts_at": T,
                "expires_at": LATER,
                "ended_at": None,
            },
        ],
        "economy_raffles": [
            {
                "id": 1,
                "prize": "Dunk Low Panda, size 10",
                "cost": 50,
                "winners": 1,
                "seed_hash": "ab" * 32,
                "seed": "cd" * 32,
                "status": "drawn",
                "ends_at": T,
                "created_by": 1,
                "created_at": T,
                "drawn_at": T,
                "result": {"winners": [1]},
            },
        ],
        "economy_raffle_entries": [
            {"id": 1, "raffle_id": 1, "member_id": 1, "transfer_id": 3, "created_at": T},
        ],
        "economy_audit": [
            {
                "id": 1,
                "actor_id": 1,
                "action": "grant",
                "member_id": 1,
                "amount": 600,
                "reason": "welcome",
                "transfer_id": 1,
                "created_at": T,
            },
        ],
        "monitors": [
            {
                "id": 1,
                "kind": "shopify",
                "url": "https://shop.example/products.json",
                "host": "shop.example",
                "keywords": "dunk low",
                "sizes": ["9", "10"],
                "feed": "restocks",
                "role": "dunks",
                "interval_s": 60,
                "paused": False,
                "selectors": {},
                "currency": "USD",
                "created_by": 1,
                "created_at": T,
                "status": "ok",
                "last_error": None,
                "last_good_at": T,
                "baseline_at": T,
                "password": False,
                "revision": 4,
                "latitude": 51.5072,
                "longitude": -0.1276,
            },
        ],
        "monitor_products": [
            {
                "monitor_id": 1,
                "product_id": "8812",
                "revision": 4,
                "state": {"title": "Dunk Low Panda", "variants": {"10": True}},
                "updated_at": T,
            },
        ],
        "monitor_events": [
            {
                "event_id": "1:8812:restock:4",
                "monitor_id": 1,
                "kind": "restock",
                "payload": event,
                "created_at": T,
                "published_at": T,
            },
        ],
        "price_observations": [
            {
                "id": 1,
                "observed_at": T,
                "source": "resale-file",
                "kind": "sale",
                "product": "Nike Dunk Low Panda",
                "product_key": "nike dunk low panda",
                "sku": "DD1391-100",
                "brand": "Nike",
                "size": "US 10",
                "size_key": "10",
                "price": 142.37,
                "currency": "USD",
                "url": None,
                "external_id": "row-1",
                "extra": {"condition": "new"},
            },
        ],
        "restock_reports": [
            {
                "id": 1,
                "member_id": 2,
                "store": "Foot Locker Oxford St",
                "item": "Dunk Low Panda",
                "size": "10",
                "created_at": T,
            },
        ],
        "outbox": [
            {
                "id": 1,
                "key": "alerts:1:8812:1:discord",
                "group_key": "alerts:1:8812:1",
                "source": "alerts",
                "member_id": 1,
                "channel": "discord",
                "fallbacks": ["sms"],
                "payload": {"text": "Dunk restock"},
                "priority": 1,
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": T,
                "lease_owner": "worker-1",
                "lease_until": T,
                "expires_at": LATER,
                "last_error": None,
                "created_at": T,
                "sent_at": T,
            },
            {
                "id": 2,
                "key": "shop:1:2:dm",
                "group_key": "shop:1:2",
                "source": "shop",
                "member_id": 2,
                "channel": "dm",
                "fallbacks": [],
                "payload": {"text": "Thanks"},
                "priority": 0,
                "status": "dead",
                "attempts": 5,
                "next_attempt_at": T,
                "lease_owner": None,
                "lease_until": None,
                "expires_at": None,
                "last_error": "403 Forbidden",
                "created_at": T,
                "sent_at": None,
            },
        ],
        "alert_rules": [
            {
                "id": 1,
                "member_id": 1,
                "name": "dunks",
                "keywords": ["dunk", "low"],
                "any_groups": [["panda"]],
                "exclude": ["kids"],
                "brands": ["nike"],
                "stores": [],
                "sizes": ["10"],
                "price_min": 50.0,
                "price_max": 200.0,
                "min_deal": 0.15,
                "latitude": 51.5,
                "longitude": -0.12,
                "radius_km": 25.0,
                "kinds": ["restock"],
                "channels": ["discord", "sms"],
                "high_priority": True,
                "paused": False,
                "created_at": T,
                "updated_at": T,
            },
        ],
        "alert_prefs": [
            {
                "member_id": 1,
                "quiet_start": 22,
                "quiet_end": 7,
                "daily_cap": 20,
                "digest": "daily",
                "digest_hour": 9,
                "digest_sent_for": "2026-11-19",
            },
        ],
        "alert_notices": [
            {
                "id": 1,
                "event_id": "1:8812:restock:4",
                "member_id": 1,
                "rule_id": 1,
                "status": "sent",
                "local_day": "2026-11-20",
                "summary": "Dunk Low Panda restocked",
                "created_at": T,
            },
        ],
        "alert_recent_events": [
            {"id": 1, "event_id": "1:8812:restock:4", "payload": event, "fanned_out": True, "received_at": T},
        ],
        "sms_verifications": [
            {
                "member_id": 2,
                "phone_secret": "gAAAAB-encrypted-number",
                "code_hash": "ef" * 32,
                "attempts": 1,
                "expires_at": LATER,
            },
        ],
    }


def _member(member_id: int, name: str, *, merged_into: int | None) -> dict[str, Any]:
    return {
        "id": member_id,
        "display_name": name,
        "timezone": "Europe/London",
        "dm_enabled": True,
        "sms_enabled": member_id == 2,
        "channel_order": ["discord", "sms"],
        "is_bot": False,
        "merged_into": merged_into,
        "created_at": T,
    }


def _transfer(transfer_id: int, key: str, kind: str, debit: int, credit: int, amount: int) -> dict[str, Any]:
    return {
        "id": transfer_id,
        "idempotency_key": key,
        "kind": kind,
        "status": "posted",
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "ref": None,
        "note": kind,
        "actor_id": 1,
        "reason": None,
        "created_at": T,
    }
