"""The ``snpd`` command line: run, shell, config check, db upgrade, commands, bench, keygen.

Feature slices add their own sub-commands (``snpd ledger verify``, ``snpd monitor test``) through
``Slice.add_cli``, read from the one list in ``bot/slices.py``; each sub-command sets ``func``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.slices import load_config
from core.commands import FRONTENDS
from core.config import Config
from core.engine import SliceStartError
from core.errors import ConfigError
from core.frontend import FrontendRejected
from core.logging import configure
from core.ops.server import OpsStartError
from snpd import backup
from snpd.backup import BackupError, running_lock


def _load(args: argparse.Namespace) -> Config:
    """bot.toml validated against core's sections and every slice's (``bot/slices.py``)."""
    return load_config(args.config)


def _config(args: argparse.Namespace, *, shell: bool = False) -> Config:
    """Load the config and set up logging; in shell mode logs go to a file, not over the prompt."""
    config = _load(args)
    secrets = [value.get_secret_value() for _, value in config.secrets if value is not None]
    log_file = config.bot.data_dir / "snpd.log" if shell else None
    configure(args.log_level or config.bot.log_level, secrets=secrets, log_file=log_file)
    return config


def cmd_run(args: argparse.Namespace) -> int:
    from snpd.app import run

    shell = _load(args).frontends_enabled()["shell"].startswith("on")
    config = _config(args, shell=shell)
    with running_lock(config.bot.data_dir):  # `snpd restore` refuses while this is held
        asyncio.run(run(config))
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from snpd.app import build_engine, run_shell

    config = _config(args, shell=True)

    async def main() -> None:
        engine = build_engine(config)
        await engine.start()
        try:
            await run_shell(engine, asyncio.Event())
        finally:
            await engine.stop()

    with running_lock(config.bot.data_dir):
        asyncio.run(main())
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    config = _config(args)
    where = str(config.path) if config.path else "built-in defaults (no bot.toml found)"
    print(f"config OK: {where}")
    print(f"database: {_safe_url(config.bot.resolved_database_url())}")
    for name, state in config.frontends_enabled().items():
        print(f"  {name:<9} {state}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.slices import load_models, migration_locations
    from core.storage.database import Database
    from core.storage.migrate import upgrade

    config = _config(args)
    load_models()  # registers every slice's tables

    async def main() -> list[str]:
        db = Database(config.bot.resolved_database_url())
        try:
            return await upgrade(db, migration_locations())
        finally:
            await db.dispose()

    heads = asyncio.run(main())
    print(f"database at: {', '.join(heads) or '(empty)'}")
    return 0


def cmd_commands(args: argparse.Namespace) -> int:
    from snpd.app import build_engine

    engine = build_engine(_config(args))
    manifest = [
        {
            "name": command.name,
            "description": command.description,
            "permission": command.permission.label,
            "frontends": [f for f in FRONTENDS if f in command.frontends],
            "sms_keyword": command.sms_keyword,
            "parameters": [
                {
                    "name": p.name,
                    "type": p.type.value,
                    "required": p.required,
                    "description": p.description,
                    "choices": list(p.choices),
                    "autocomplete": p.autocomplete is not None,
                    **({"min": p.min_value} if p.min_value is not None else {}),
                    **({"max": p.max_value} if p.max_value is not None else {}),
                }
                for p in command.params
            ],
        }
        for command in engine.registry.all()
    ]
    if args.json:
        sys.stdout.write(orjson.dumps({"commands": manifest}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for command in engine.registry.all():
            frontends = ",".join(f for f in FRONTENDS if f in command.frontends)
            print(f"/{command.name:<22} {command.permission.label:<7} {frontends}")
    return 0


BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def _benchmarks() -> list[str]:
    return sorted(path.stem for path in BENCH_DIR.glob("[a-z]*.py"))


def _summary(name: str) -> str:
    """The first line of a benchmark's docstring, for the list ``snpd bench`` prints."""
    quoted = (BENCH_DIR / f"{name}.py").read_text(encoding="utf-8").split('"""', 2)
    return quoted[1].strip().splitlines()[0] if len(quoted) > 2 else ""


def cmd_bench(args: argparse.Namespace) -> int:
    name = args.name
    if name is None or name not in _benchmarks():
        lead = "snpd bench NAME [--json]" if name is None else f"no benchmark called {name[:40]!r}"
        lines = [f"  {bench:<10} {_summary(bench)[:100]}" for bench in _benchmarks()]
        print(f"{lead}; available:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    module_name = f"bench.{name}"
    configure("WARNING", json=True)
    started = time.perf_counter()
    result: dict[str, Any] = importlib.import_module(module_name).run()
    result.setdefault("bench", name)
    result.setdefault("wall_s", round(time.perf_counter() - started, 2))
    if args.json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    else:
        for key, value in result.items():
            print(f"{key:<36} {value}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from bot.slices import load_models
    from core.engine import Engine
    from core.keys import rotate_keys
    from core.storage.metadata import all_metadata

    config = _config(args)
    load_models()
    engine = Engine(config)
    if engine.vault is None:
        print("SNPD_ENCRYPTION_KEY is not set: there is nothing encrypted to rotate.", file=sys.stderr)
        return 2
    vault = engine.vault

    async def main() -> None:
        try:
            report = await rotate_keys(engine.db, vault, all_metadata())
        finally:
            await engine.db.dispose()
        for column, count in report.rotated.items():
            print(f"{column}: {count} re-encrypted")
        print(f"{report.already_current} already on the first key")

    asyncio.run(main())
    if vault.key_count > 1 and config.secrets.SNPD_LOOKUP_KEY is None:
        print(
            "Every number is on the first key now. Phone lookups are keyed from the LAST key: before you "
            "remove it, set SNPD_LOOKUP_KEY to this value (a secret, like the key):\n" + vault.lookup_secret()
        )
    return 0


def cmd_keygen(_args: argparse.Namespace) -> int:
    from core.crypto import new_key

    print(new_key())
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snpd", description="SNPD: sneaker cook-group bot.")
    parser.add_argument("--config", default=None, help="path to bot.toml (default: ./bot.toml or $SNPD_CONFIG)")
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every frontend whose token is set; the shell if none").set_defaults(
        func=cmd_run
    )
    sub.add_parser("shell", help="interactive local frontend, no token needed").set_defaults(func=cmd_shell)
    config = sub.add_parser("config", help="configuration tools").add_subparsers(dest="action", required=True)
    config.add_parser("check", help="validate bot.toml and list the frontends that would start").set_defaults(
        func=cmd_config_check
    )
    db = sub.add_parser("db", help="database tools").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply Alembic migrations").set_defaults(func=cmd_db_upgrade)
    commands = sub.add_parser("commands", help="list every command and the frontends serving it")
    commands.add_argument("--json", action="store_true")
    commands.set_defaults(func=cmd_commands)
    bench = sub.add_parser("bench", help="run a benchmark from bench/")
    bench.add_argument("name", nargs="?", default=None, help="which benchmark (none: list them)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=cmd_bench)
    sub.add_parser("keygen", help="print a new SNPD_ENCRYPTION_KEY").set_defaults(func=cmd_keygen)
    keys = sub.add_parser("keys", help="encryption key tools").add_subparsers(dest="action", required=True)
    keys.add_parser(
        "rotate", help="re-encrypt stored phone numbers with the first key of SNPD_ENCRYPTION_KEY (NEW,OLD)"
    ).set_defaults(func=cmd_keys_rotate)
    backup.add_cli(sub)
    from bot.slices import SLICES

    for item in SLICES:
        item.add_cli(sub)
    return parser


def _database_host(args: argparse.Namespace) -> str:
    """Where the configured database is, for a one-line error (no credentials)."""
    try:
        url = make_url(load_config(args.config).bot.resolved_database_url())
    except Exception:
        return "the configured URL"
    if url.host:
        return f"{url.host}:{url.port or 5432}"
    return url.database or "the configured file"


def _short(exc: BaseException) -> str:
    """The first line of the innermost reason: asyncpg's or sqlite's words, not SQLAlchemy's wrapper."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return (text[0] if text else type(inner).__name__)[:200]


def _global_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """``--config`` and ``--log-level`` may stand anywhere (``snpd config check --config X``): take
    them out before the sub-command parsers see the rest."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config", default=None)
    early.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return early.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    options, rest = _global_options(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(rest)
    args.config = options.config
    args.log_level = options.log_level
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except SliceStartError as exc:
        print(f"start-up failed: {exc} (details in the log)", file=sys.stderr)
        return 1
    except OpsStartError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    except BackupError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except FrontendRejected as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    except (OSError, DBAPIError) as exc:
        print(f"can't reach the database at {_database_host(args)}: {_short(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
