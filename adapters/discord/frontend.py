"""The Discord frontend: slash commands built from the command registry, replies as embeds, feed posts.

Commands are declared once in core; this module only translates. Each ``Command`` becomes an
``app_commands.Command`` whose callback has a generated signature (so discord.py derives the option
types, choices, ranges and autocomplete itself) and which hands the raw values to ``Engine.dispatch``:
validation, permissions and error messages stay in core, identical on every platform.

Multi-word names become groups: ``feed bind`` is group ``feed``, subcommand ``bind``; three words use a
subcommand group. The module is not called ``discord.py`` so it never shadows the library.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import keyword
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import orjson
import structlog
import yarl
from discord import app_commands
from discord.http import handle_message_parameters

from adapters.discord.forms import form_submission, modal_for
from adapters.discord.render import ActionButton, attachment_uploads, render
from core.attachments import Attachment, carrying
from core.commands import Command, Param, ParamType, Permission
from core.config import DiscordSection
from core.engine import Engine
from core.errors import BadArgument, ConfigError
from core.frontend import DeliveryRefused, FrontendRejected, request_slot
from core.identity import Caller
from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat

log = structlog.get_logger(__name__)

#: Discord closes an interaction that gets no answer within 3 s; past this we defer and answer later.
DEFAULT_DEFER_AFTER = 2.0
#: Discord error codes meaning "this user cannot be messaged": retrying will not help.
_UNREACHABLE_USER_CODES = {50007, 50278, 10013}
_OPTION_DESCRIPTION_LIMIT = 100
_CHOICES_LIMIT = 25
_DM_CACHE_SIZE = 200_000
#: discord.py sleeps through rate limits up to this long, and raises ``RateLimited`` past it
MAX_RATELIMIT_WAIT = 30.0
#: Discord checks an enforced nonce for uniqueness "in the past few minutes"; we count on two
NONCE_WINDOW_S = 120.0
#: the longest nonce Discord accepts
_NONCE_LENGTH = 25
#: permissions a shop role must not carry: Discord's "elevated" (2FA) set and the other moderation ones
_POWERFUL = discord.Permissions.elevated() | discord.Permissions(
    manage_nicknames=True,
    mute_members=True,
    deafen_members=True,
    move_members=True,
    mention_everyone=True,
    view_audit_log=True,
    manage_events=True,
)
_Completer = Callable[[discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[Any]]]]


def platform_role(user: discord.abc.User, settings: DiscordSection) -> Permission:
    """What the community's Discord says this person may do.

    Only a member of a home server (``guild_ids``) has a role: Administrator or Manage Server across
    that server make an admin, Manage Messages a mod, and so do the role ids in ``admin_role_ids`` /
    ``mod_role_ids``. Permissions are the server-wide ones computed from the member's roles, never
    the channel-resolved ``Interaction.permissions`` (one channel's overwrite would make a mod), and
    role names never count (anyone can name a role "Admin"). Another server, a DM, or no home
    server configured: member.
    """
    if not isinstance(user, discord.Member) or user.guild.id not in settings.guild_ids:
        return Permission.MEMBER
    perms = user.guild_permissions
    role_ids = {role.id for role in user.roles}
    if perms.administrator or perms.manage_guild or role_ids & set(settings.admin_role_ids):
        return Permission.ADMIN
    if perms.manage_messages or role_ids & set(settings.mod_role_ids):
        return Permission.MOD
    return Permission.MEMBER


def grantable_refusal(role: discord.Role | None, bot: discord.Member | None) -> str | None:
    """Why the bot must not give ``role`` as a shop item, or ``None``: a role with moderation powers
    or one at or above the bot's own top role would hand out more than a cosmetic (Discord itself
    only checks the hierarchy, and an admin may have allow-listed the wrong id)."""
    if role is None or role.is_default() or role.managed:
        return "that role can't be given by the bot"
    if role.permissions.value & _POWERFUL.value:
        return "that role carries moderation permissions, so the shop won't give it"
    if bot is None or role >= bot.top_role:
        return "that role is not below the bot's own role, so the shop won't give it"
    return None


def message_nonce(idempotency_key: str) -> str:
    """A Discord message nonce for a key of any length: Discord takes at most 25 characters, so a hash
    (24 hex digits, 96 bits: two keys colliding within the dedupe window is not a real risk)."""
    return hashlib.blake2b(idempotency_key.encode(), digest_size=_NONCE_LENGTH // 2).hexdigest()


def origin_of(channel: Any) -> dict[str, object] | None:
    """Where an interaction happened, as a serialised target (a thread keeps its parent channel)."""
    if channel is None or getattr(channel, "id", None) is None:
        return None
    if isinstance(channel, discord.Thread | app_commands.AppCommandThread):
        return DiscordChannel(channel_id=channel.parent_id, thread_id=channel.id).model_dump()
    return DiscordChannel(channel_id=channel.id).model_dump()


def _python_name(param: Param, index: int) -> str:
    """Discord option names may be Python keywords or contain ``-``; generated signatures can't."""
    name = param.name
    if name.isidentifier() and not keyword.iskeyword(name) and name != "interaction":
        return name
    return f"option_{index}"


def _annotation(param: Param, member_as_user: bool) -> Any:
    """The type discord.py turns into the option: string/integer/number/boolean/user, with ranges."""
    base: Any
    if param.type is ParamType.INTEGER:
        low = math.ceil(param.min_value) if param.min_value is not None else None
        high = math.floor(param.max_value) if param.max_value is not None else None
        base = app_commands.Range[int, low, high] if (low, high) != (None, None) else int
    elif param.type is ParamType.NUMBER:
        low_f = float(param.min_value) if param.min_value is not None else None
        high_f = float(param.max_value) if param.max_value is not None else None
        base = app_commands.Range[float, low_f, high_f] if (low_f, high_f) != (None, None) else float
    elif param.type is ParamType.BOOLEAN:
        base = bool
    elif param.type is ParamType.MEMBER and member_as_user:
        base = discord.User
    else:
        limit = param.max_length if param.max_length and param.max_length <= 6000 else None
        base = app_commands.Range[str, None, limit] if limit else str
    return base | None if not param.required else base


def _raw_value(value: Any) -> Any:
    """Discord's typed value → what ``Command.bind`` accepts (a user becomes a mention it can resolve)."""
    if isinstance(value, discord.abc.Snowflake) and not isinstance(value, int):
        return f"<@{value.id}>"
    return value


def attachment_options(param: Param) -> list[str]:
    """The slash-command options a files parameter becomes, one per file (Discord has no list option):
    ``photo`` for one file, else ``photo1`` … ``photoN`` (a plural name loses its ``s``)."""
    if param.max_files == 1:
        return [param.name]
    stem = param.name.removesuffix("s") or param.name
    return [f"{stem}{index}" for index in range(1, param.max_files + 1)]


def from_discord(item: discord.Attachment) -> Attachment:
    """A member's file, read through discord.py from Discord's CDN. Discord itself reports the size
    (the member can't fake it), so a file over the reader's limit is refused before any download."""

    async def fetch(limit: int) -> bytes:
        try:
            return await item.read()
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("discord.attachment_unreadable", filename=item.filename, error=repr(exc))
            raise BadArgument(item.filename, "could not be downloaded from Discord; send it again") from None

    return Attachment(item.filename, fetch, content_type=item.content_type, size=item.size)


def _multipart(payload_json: bytes, uploads: list[tuple[str, bytes]]) -> aiohttp.FormData:
    """A message with files, as Discord takes it: ``payload_json`` then ``files[0]``, ``files[1]``…"""
    form = aiohttp.FormData()
    form.add_field("payload_json", payload_json.decode(), content_type="application/json")  # a field, not a file
    for index, (name, data) in enumerate(uploads):
        form.add_field(f"files[{index}]", data, filename=name, content_type="application/octet-stream")
    return form


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    """discord.py reconnects by itself; if it gives up (bad token, intents refused), say so loudly."""
    if not task.cancelled() and task.exception() is not None:
        log.error("discord.gateway_stopped", error=repr(task.exception()))


class SnpdCommandTree(app_commands.CommandTree[Any]):
    """Logs library-level failures (stale commands, bad payloads) and still answers the user."""

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            message = "This command changed since Discord last synced it. Try again in a minute."
        else:
            message = "Something went wrong on our side."
        log.error("discord.command_error", error=repr(error), command=getattr(interaction.command, "name", None))
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)


class SnpdClient(discord.Client):
    """discord.Client that routes action-button presses to the frontend."""

    def __init__(self, frontend: DiscordFrontend, **options: Any) -> None:
        super().__init__(**options)
        self.frontend = frontend

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)

    async def on_snpd_action(self, interaction: discord.Interaction[Any], action: str) -> None:
        await self.frontend.run_action(interaction, action)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await self.frontend.run_form(interaction)


class DiscordFrontend:
    """Implements ``core.frontend.Frontend`` on the real discord.py."""

    name = "discord"
    #: ``KeyedSends``: how long Discord drops a repeated nonce
    idempotency_window_s = NONCE_WINDOW_S

    def __init__(
        self,
        engine: Engine,
        *,
        defer_after: float = DEFAULT_DEFER_AFTER,
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = 60.0,
        member_option: str = "user",
    ) -> None:
        """``member_option`` is ``user`` (Discord's member picker) or ``string`` (also accepts ``#42``)."""
        self.engine = engine
        self.settings = engine.config.discord
        self.defer_after = defer_after
        self.ready_timeout = ready_timeout
        self.member_as_user = member_option == "user"
        intents = discord.Intents.default()
        intents.message_content = False
        self.client = SnpdClient(
            self,
            intents=intents,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=discord.AllowedMentions.none(),  # user text never pings; feed posts opt in
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.tree = SnpdCommandTree(self.client)
        self._task: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        #: (command, Python parameter name) → the declared parameter name
        self._names: dict[tuple[str, str], str] = {}
        #: command → the Python names of its file options, in order
        self._file_options: dict[str, list[str]] = {}
        self._dm_channels: dict[int, int] = {}
        #: the DM path's own HTTP session (``_rest``), opened on the first DM
        self._session: aiohttp.ClientSession | None = None
        self.build_tree()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Log in, point at ``api_base`` if set, sync commands, connect, and wait for READY."""
        secret = self.engine.config.secrets.DISCORD_TOKEN
        if secret is None:
            raise ConfigError("DISCORD_TOKEN is not set")
        if self.settings.api_base:
            self._saved_endpoints = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
            discord.http.Route.BASE = self.settings.api_base.rstrip("/")
        try:
            await self.client.login(secret.get_secret_value())
        except discord.LoginFailure:
            refused = "Discord refused DISCORD_TOKEN: copy the bot token again (Developer Portal → Bot)"
            raise FrontendRejected(refused) from None
        if self.settings.api_base:
            # Plain Client never asks /gateway/bot; an overridden API must also supply its gateway.
            _shards, url, _limits = await self.client.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        try:
            await self.sync_commands()
        except discord.HTTPException as exc:
            # Commands synced earlier keep working; a failed sync must not keep the bot offline.
            log.error("discord.commands_sync_failed", status=exc.status, code=exc.code, error=exc.text)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        self._task.add_done_callback(_log_gateway_end)
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=self.ready_timeout, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises the connection error
            raise TimeoutError(f"Discord gateway not ready after {self.ready_timeout:.0f} s")
        log.info("discord.ready", user=str(self.client.user), guilds=len(self.client.guilds))

    @property
    def connected(self) -> bool:
        """The gateway is open and READY (``/healthz``); false while discord.py reconnects."""
        ws = self.client.ws
        return self.client.is_ready() and not self.client.is_closed() and ws is not None and ws.open

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)
            self._task = None
        if self._saved_endpoints is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Per configured guild (instant), else globally (Discord may take a while to show them)."""
        synced: list[app_commands.AppCommand] = []
        if self.settings.guild_ids:
            for guild_id in self.settings.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced += await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("discord.commands_synced", count=len(synced), guilds=self.settings.guild_ids or "global")
        return synced

    # ------------------------------------------------------------------ building the tree

    def build_tree(self) -> None:
        """Every command the registry offers on Discord, grouped by its leading words."""
        groups: dict[tuple[str, ...], app_commands.Group] = {}
        for command in self.engine.registry.all(frontend=self.name):
            path = command.path
            parent: app_commands.Group | None = None
            for depth in range(1, len(path)):
                key = path[:depth]
                if key not in groups:
                    groups[key] = app_commands.Group(
                        name=key[-1],
                        description=f"{' '.join(key).capitalize()} commands",
                        parent=parent,
                    )
                    if parent is None:  # a nested Group adds itself to its parent
                        self.tree.add_command(groups[key])
                parent = groups[key]
            slash = self._slash_command(command, parent)
            if parent is None:
                self.tree.add_command(slash)
            else:
                parent.add_command(slash)

    def _slash_command(
        self, command: Command, parent: app_commands.Group | None
    ) -> app_commands.Command[Any, ..., None]:
        async def callback(interaction: discord.Interaction[Any], **values: Any) -> None:
            await self.run_command(interaction, command, values)

        options: list[inspect.Parameter] = []
        descriptions: dict[str, str] = {}
        renames: dict[str, str] = {}
        choices: dict[str, list[app_commands.Choice[Any]]] = {}
        completers: dict[str, _Completer] = {}
        for index, param in enumerate(command.params):
            if not param.typed:
                options += self._file_parameters(command, param, descriptions, renames)
                continue
            py_name = _python_name(param, index)
            self._names[(command.name, py_name)] = param.name
            options.append(
                inspect.Parameter(
                    py_name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=_annotation(param, self.member_as_user),
                    default=inspect.Parameter.empty if param.required else None,
                )
            )
            descriptions[py_name] = param.description[:_OPTION_DESCRIPTION_LIMIT] or param.name
            if py_name != param.name:
                renames[py_name] = param.name
            typed = param.type in (ParamType.STRING, ParamType.INTEGER, ParamType.NUMBER) or (
                param.type is ParamType.MEMBER and not self.member_as_user
            )
            if param.choices and len(param.choices) <= _CHOICES_LIMIT and param.type is ParamType.STRING:
                choices[py_name] = [app_commands.Choice(name=c[:100], value=c) for c in param.choices]
            elif typed and (param.autocomplete is not None or param.choices):
                completers[py_name] = self._completer(command, param)
        # Discord takes required options first; a command's required file goes after its required words
        options.sort(key=lambda option: option.default is not inspect.Parameter.empty)
        signature = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD), *options]
        callback.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
        if descriptions:
            app_commands.describe(**descriptions)(callback)
        if renames:
            app_commands.rename(**renames)(callback)
        if choices:
            app_commands.choices(**choices)(callback)
        if completers:
            app_commands.autocomplete(**completers)(callback)
        return app_commands.Command(
            name=command.path[-1],
            description=command.description[:100] or command.name,
            callback=callback,
            parent=parent,
            extras={"snpd": command.name},
        )

    def _file_parameters(
        self, command: Command, param: Param, descriptions: dict[str, str], renames: dict[str, str]
    ) -> list[inspect.Parameter]:
        """One attachment option (type 11) per file the parameter takes; only the first can be required."""
        result: list[inspect.Parameter] = []
        names = attachment_options(param)
        self._file_options[command.name] = []
        for index, option in enumerate(names):
            py_name = f"attachment_{index + 1}"
            self._file_options[command.name].append(py_name)
            required = param.required and index == 0
            annotation: Any = discord.Attachment if required else discord.Attachment | None
            default = inspect.Parameter.empty if required else None
            result.append(
                inspect.Parameter(py_name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
            )
            what = param.description if len(names) == 1 else f"{param.description} ({index + 1} of {len(names)})"
            descriptions[py_name] = what[:_OPTION_DESCRIPTION_LIMIT] or option
            renames[py_name] = option
        return result

    def _completer(self, command: Command, param: Param) -> _Completer:
        async def complete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[Any]]:
            suggestions = await self.engine.autocomplete(self.caller(interaction), command.name, param.name, current)
            result: list[app_commands.Choice[Any]] = []
            for text in suggestions[:_CHOICES_LIMIT]:
                value: Any = text[:100]
                if param.type is ParamType.INTEGER:
                    value = int(text) if text.lstrip("-").isdigit() else None
                elif param.type is ParamType.NUMBER:
                    try:
                        value = float(text)
                    except ValueError:
                        value = None
                if value is not None:
                    result.append(app_commands.Choice(name=text[:100], value=value))
            return result

        return complete

    # ------------------------------------------------------------------ interactions

    def caller(self, interaction: discord.Interaction[Any]) -> Caller:
        user = interaction.user
        return Caller(
            platform=self.name,
            external_id=str(user.id),
            display_name=user.display_name,
            platform_role=platform_role(user, self.settings),
            is_bot=user.bot,
            origin=origin_of(interaction.channel),
        )

    async def run_command(
        self, interaction: discord.Interaction[Any], command: Command, values: dict[str, Any]
    ) -> None:
        file_options = self._file_options.get(command.name, [])
        files = [from_discord(values[name]) for name in file_options if values.get(name) is not None]
        raw = {
            self._names[(command.name, py_name)]: _raw_value(value)
            for py_name, value in values.items()
            if value is not None and py_name not in file_options
        }
        caller = self.caller(interaction)
        guided = command.guide is not None and command.permission <= self.engine.identity.role_for(caller)
        if not raw and not files and guided:
            await interaction.response.send_modal(modal_for(command))  # a guided command asks for its fields
            return
        with carrying(files):  # the answer's task starts inside, so the engine sees the files
            work = self.engine.dispatch(caller, command.name, raw, request_id=str(interaction.id))
            await self._answer(interaction, work, private=command.private)

    async def run_form(self, interaction: discord.Interaction[Any]) -> None:
        """A submitted guided form (see ``adapters.discord.forms``) runs its command exactly as the same
        values given as options would."""
        submitted = form_submission(interaction)
        if submitted is None:
            return
        name, raw = submitted
        declared = next((c for c in self.engine.registry.all(frontend=self.name) if c.name == name), None)
        work = self.engine.dispatch(self.caller(interaction), name, raw, request_id=str(interaction.id))
        await self._answer(interaction, work, private=declared is None or declared.private)

    async def run_action(self, interaction: discord.Interaction[Any], action: str) -> None:
        """A pressed action button: its command line runs as the presser, and only they see the answer
        (a button on a shared post is pressed by many people; public answers would flood the channel)."""
        caller = self.caller(interaction)
        try:
            work = self.engine.dispatch_line(caller, action, request_id=str(interaction.id))
            await self._answer(interaction, work, private=True, force_private=True)
        except Exception:
            # discord.py would only log this; the presser would see "interaction failed" and nothing else
            log.exception("discord.action_failed", action=action)
            with contextlib.suppress(discord.HTTPException):
                error = Reply.error("Something went wrong on our side.")
                if interaction.response.is_done():
                    await interaction.followup.send(**render(error).kwargs(), ephemeral=True)
                else:
                    await interaction.response.send_message(**render(error).kwargs(), ephemeral=True)

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        work: Awaitable[Reply],
        *,
        private: bool,
        force_private: bool = False,
    ) -> None:
        """Reply within Discord's 3 s window: directly if the engine is quick, else defer and follow up."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.defer_after)
        deferred = False
        if not done:
            await interaction.response.defer(ephemeral=private, thinking=True)
            deferred = True
        reply = await task
        if force_private and not reply.ephemeral:
            reply = reply.model_copy(update={"ephemeral": True})
        rendered = render(reply)
        if not deferred:
            await interaction.response.send_message(**rendered.kwargs(), ephemeral=reply.ephemeral)
        elif reply.ephemeral == private:
            await interaction.edit_original_response(**rendered.kwargs(edit=True))
        else:
            # the "thinking" message has the wrong visibility: replace it
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(**rendered.kwargs(), ephemeral=reply.ephemeral)

    # ------------------------------------------------------------------ Frontend: posting

    async def post(self, target: DiscordChannel | TelegramChat | ShellConsole, item: Reply) -> None:
        """A feed item in a channel or thread; a bound role is mentioned (and only that role pings)."""
        await self.post_ref(target, item)

    async def edit_post(self, target: DiscordChannel | TelegramChat | ShellConsole, ref: str, item: Reply) -> str:
        """Edit a feed post in place (``EditablePosts``); the role is not mentioned again."""
        if not isinstance(target, DiscordChannel):
            raise TypeError(f"the Discord frontend cannot edit in {target.describe()}")
        channel = self.client.get_partial_messageable(target.thread_id or target.channel_id)
        rendered = render(item, attach=False)
        try:
            await channel.get_partial_message(int(ref)).edit(
                content=rendered.content, embeds=rendered.embeds, view=rendered.view
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            raise DeliveryRefused(self.name, f"{target.describe()}: {exc.text or exc}") from exc
        return ref

    async def post_ref(self, target: DiscordChannel | TelegramChat | ShellConsole, item: Reply) -> str:
        """Post a feed item and return its message id (``EditablePosts``)."""
        if not isinstance(target, DiscordChannel):
            raise TypeError(f"the Discord frontend cannot post to {target.describe()}")
        channel = self.client.get_partial_messageable(target.thread_id or target.channel_id)
        roles = list(dict.fromkeys(r for r in (target.role_id, item.mention_role_id) if r is not None))
        mention = " ".join(f"<@&{role}>" for role in roles) or None
        allowed = discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(id=role) for role in roles] if roles else False
        )
        rendered = render(item, mention=mention)
        try:
            message = await channel.send(**rendered.kwargs(), allowed_mentions=allowed)
        except (discord.Forbidden, discord.NotFound) as exc:
            raise DeliveryRefused(self.name, f"{target.describe()}: {exc.text or exc}") from exc
        return str(message.id)

    def requests_for(self, external_id: str) -> int:
        """A DM to someone whose DM channel we have not opened yet costs a second request."""
        return 1 if external_id.isdigit() and int(external_id) in self._dm_channels else 2

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        """A DM. Closed DMs, no shared server or an unknown user raise ``DeliveryRefused``.

        With an ``idempotency_key`` the message carries a nonce made from it, sent with
        ``enforce_nonce``: Discord answers a repeat within a few minutes with the first message
        instead of posting a second. Each request is made inside ``request_slot`` (our rate limits).

        The two requests go straight over aiohttp (``_rest``), not through discord.py's HTTP client:
        that one keeps a rate-limit bucket per DM channel and scans all of them whenever a new one
        appears (quadratic over a fan-out), and builds a ``Message`` (and stores its view) that
        nothing here reads. Discord's answers map to discord.py's own exceptions, as before.
        """
        attach = bool(reply.images or reply.files)  # a chart alone is left out of DMs
        rendered = render(reply, attach=attach)
        uploads = attachment_uploads(reply) if attach else []
        rendered.files = []
        user_id = int(external_id)
        try:
            channel_id = self._dm_channels.get(user_id)
            if channel_id is None:
                async with request_slot():
                    opened = await self._rest("/users/@me/channels", {"recipient_id": user_id})
                channel_id = int(opened["id"])
                self._remember_dm(user_id, channel_id)
            payload = (
                handle_message_parameters(
                    **rendered.kwargs(),
                    nonce=None if idempotency_key is None else message_nonce(idempotency_key),
                    previous_allowed_mentions=self.client.allowed_mentions,
                ).payload
                or {}
            )
            if uploads:
                payload["attachments"] = [{"id": index, "filename": name} for index, (name, _) in enumerate(uploads)]
            async with request_slot():
                await self._rest(f"/channels/{channel_id}/messages", payload, uploads)
        except discord.HTTPException as exc:
            if exc.code in _UNREACHABLE_USER_CODES or isinstance(exc, discord.Forbidden):
                raise DeliveryRefused(self.name, exc.text or "cannot message this user") from exc
            if isinstance(exc, discord.DiscordServerError):
                raise DeliveryRefused(self.name, "Discord is failing; try later", permanent=False) from exc
            raise

    async def _rest(self, path: str, payload: dict[str, Any], uploads: list[tuple[str, bytes]] | None = None) -> Any:
        """POST ``payload`` to the Discord API; the answer's JSON, or discord.py's exception for it.
        With ``uploads`` (filename, bytes) it goes as multipart: ``payload_json`` and ``files[n]``.

        A 429 shorter than ``MAX_RATELIMIT_WAIT`` is waited out and the request made again, as
        discord.py does; a longer one raises ``discord.RateLimited``, whose ``retry_after`` the
        delivery worker honours. A 5xx raises at once (discord.py would retry for up to ~16 s): the
        worker retries with back-off, under the same nonce."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        secret = self.engine.config.secrets.DISCORD_TOKEN
        headers = {
            "Authorization": f"Bot {secret.get_secret_value() if secret is not None else ''}",
            "User-Agent": self.client.http.user_agent,
        }
        body = orjson.dumps(payload)
        if not uploads:
            headers["Content-Type"] = "application/json"
        while True:
            data_out = _multipart(body, uploads) if uploads else body  # a form is consumed by each attempt
            async with self._session.post(discord.http.Route.BASE + path, data=data_out, headers=headers) as response:
                data = await discord.http.json_or_text(response)
                if 200 <= response.status < 300:
                    return data
                if response.status == 429:
                    wait = float(data.get("retry_after", 1.0)) if isinstance(data, dict) else 1.0
                    if wait > MAX_RATELIMIT_WAIT:
                        raise discord.RateLimited(wait)
                    log.warning("discord.rate_limited", retry_after=wait, path=path)
                    await asyncio.sleep(wait)
                    continue
                if response.status == 403:
                    raise discord.Forbidden(response, data)
                if response.status == 404:
                    raise discord.NotFound(response, data)
                if response.status >= 500:
                    raise discord.DiscordServerError(response, data)
                raise discord.HTTPException(response, data)

    # ------------------------------------------------------------------ RoleManager (shop roles)

    async def add_role(self, user_id: str, role_id: int, *, reason: str) -> None:
        await self._change_role("add_role", user_id, role_id, reason)

    async def remove_role(self, user_id: str, role_id: int, *, reason: str) -> None:
        await self._change_role("remove_role", user_id, role_id, reason)

    async def _change_role(self, method: str, user_id: str, role_id: int, reason: str) -> None:
        """Changes a role of a home server, never another server's; a role is only given if it has
        no power (``grantable_refusal``). Any Discord refusal becomes ``DeliveryRefused``."""
        if not self.settings.guild_ids:
            raise DeliveryRefused(self.name, "no home server is configured ([discord] guild_ids)")
        homes = (self.client.get_guild(guild_id) for guild_id in self.settings.guild_ids)
        guild = next((g for g in homes if g is not None and g.get_role(role_id) is not None), None)
        if guild is None:
            raise DeliveryRefused(self.name, "that role no longer exists on the community's server")
        refusal = grantable_refusal(guild.get_role(role_id), guild.me) if method == "add_role" else None
        if refusal is not None:
            log.warning("discord.role_refused", role=role_id, guild=guild.id, reason=refusal)
            raise DeliveryRefused(self.name, refusal)
        try:
            await getattr(self.client.http, method)(guild.id, int(user_id), role_id, reason=reason)
        except discord.HTTPException as exc:
            raise DeliveryRefused(self.name, f"Discord refused the role change ({exc.text or exc})") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryRefused(self.name, f"Discord unreachable ({exc})", permanent=False) from exc

    def _remember_dm(self, user_id: int, channel_id: int) -> None:
        """A user's DM channel id never changes; caching it halves the requests of a DM fan-out."""
        if len(self._dm_channels) >= _DM_CACHE_SIZE:
            self._dm_channels.pop(next(iter(self._dm_channels)))
        self._dm_channels[user_id] = channel_id
