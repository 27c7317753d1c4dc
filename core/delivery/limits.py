"""Our own rate limiters, so a fan-out never provokes a 429 in the first place.

Each limit is a GCRA token bucket (``TokenBucket``): ``rate`` sends per second with room for a burst
of ``burst``. A send takes a token from every bucket that applies to it (the platform's global
bucket, the chat's or the number's), waits for the slowest, and only then goes out. Reserving ahead
(the theoretical arrival time moves forward at reservation) keeps waiters in FIFO order without a
queue. ``pause`` honours a platform's ``retry_after``.

Buckets pace, but a platform that counts strictly (every request in any one-second window) sees
each request when it really arrives: a send may make two requests some time apart (Discord opens a
DM channel first) or do other work before its request (SMS checks consent), and the network and
both event loops add jitter. So each request is also made inside a ``SlidingWindow`` place, through
the frontend's ``request_slot``, held from the moment it leaves until a second after its answer.

All rates are multiplied by a scale factor so the benchmark can run the real limits ×50 against local
servers that enforce the same scaled limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
#: how often a request waiting for a place checks again while every place awaits an answer
_ANSWER_POLL_S = 0.005


class TokenBucket:
    def __init__(self, rate: float, burst: float = 1.0, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1.0) * self._interval
        self._clock = clock
        self._tat = 0.0  # theoretical arrival time of the next conforming send

    def conforming_at(self, earliest: float) -> float:
        """The first moment at or after ``earliest`` when a send would conform (books nothing)."""
        return max(earliest, self._tat - self._tolerance)

    def book(self, send_at: float, cost: float = 1.0) -> None:
        """Record a send at ``send_at`` (a conforming moment)."""
        self._tat = max(self._tat, send_at) + self._interval * cost

    def reserve_at(self, earliest: float, cost: float = 1.0) -> float:
        """Book ``cost`` tokens for a send no sooner than ``earliest``; returns the conforming send time."""
        send_at = self.conforming_at(earliest)
        self.book(send_at, cost)
        return send_at

    def reserve(self, cost: float = 1.0) -> float:
        """Book ``cost`` tokens as soon as possible; returns how long to wait before sending."""
        now = self._clock()
        return self.reserve_at(now, cost) - now

    def pause(self, seconds: float) -> None:
        """Nothing conforms for ``seconds`` (a 429's ``retry_after``)."""
        self._tat = max(self._tat, self._clock() + seconds + self._tolerance)

    def idle(self) -> bool:
        return self._tat < self._clock() - self._tolerance - 1.0


class SlidingWindow:
    """At most ``limit`` requests in any ``seconds``-long window, as the platform counts them.

    The platform counts a request at some moment between when it leaves and when its answer comes
    back, and which moment depends on jitter we cannot see (the network, a busy event loop on either
    side). So a request holds its place from the moment it leaves until ``seconds`` after its answer:
    then no ``seconds``-long window of the platform's can hold more than ``limit`` of them, whatever
    the jitter, at the price of one round trip per window. Checking and taking a place happen
    without an ``await`` in between, so concurrent senders on one loop cannot both take the last one.
    """

    def __init__(self, limit: int, seconds: float = 1.0, *, clock: Clock = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.seconds = seconds
        self._clock = clock
        self._in_flight = 0
        #: when answered requests give their places back (answer + ``seconds``), oldest first
        self._releases: deque[float] = deque()

    def wait_time(self) -> float | None:
        """0 if a request may leave now; else seconds until a place frees, or None if every place is
        held by a request still waiting for its answer."""
        now = self._clock()
        releases = self._releases
        while releases and releases[0] <= now:
            releases.popleft()
        if self._in_flight + len(releases) < self.limit:
            return 0.0
        return releases[0] - now if releases else None

    def take(self) -> None:
        """A request leaves now."""
        self._in_flight += 1

    def answered(self) -> None:
        """A request's answer arrived (or it failed): its place frees ``seconds`` from now."""
        self._in_flight -= 1
        self._releases.append(self._clock() + self.seconds)


class KeyedBuckets:
    """One bucket per key (chat, channel, number), created on demand and forgotten when idle."""

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic, sweep_every: int = 4096) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_every = sweep_every
        self._since_sweep = 0

    def get(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            self._since_sweep += 1
            if self._since_sweep >= self._sweep_every:
                self._sweep()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, clock=self._clock)
        return bucket

    def _sweep(self) -> None:
        self._since_sweep = 0
        for key in [key for key, bucket in self._buckets.items() if bucket.idle()]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class PlatformLimits:
    """Real platform limits (before scaling). Defaults follow each platform's published guidance."""

    #: the token buckets pace every global and per-number limit at this fraction of it; the strict
    #: windows behind them need none (``SlidingWindow`` holds a place until the answer is in)
    headroom: float = 0.95
    #: Discord allows 50 requests/s per bot
    discord_global_per_s: float = 50.0
    #: about 5 messages per 5 s per channel (a DM is a channel)
    discord_channel_messages: int = 5
    discord_channel_window_s: float = 5.0
    #: the most HTTP requests one DM costs (open the DM channel, then post); sizes the work claimed
    #: ahead. What each send really costs comes from the frontend (``RequestCounter``)
    discord_requests_per_dm: int = 1
    telegram_global_per_s: float = 30.0
    telegram_private_per_s: float = 1.0
    telegram_group_per_min: float = 20.0
    #: Twilio queues 1 message/s per long-code number (more for toll-free and short codes)
    sms_per_number_per_s: float = 1.0
    scale: float = 1.0


class DeliveryLimiter:
    """Decides how long a send must wait so that no platform limit is crossed.

    Two steps per send: ``acquire`` books the send's requests in the token buckets (pacing, FIFO among
    many waiting sends), then the frontend makes each of its requests inside ``request`` (the strict
    one-second window, held from the moment the request leaves until a second after its answer)."""

    def __init__(self, limits: PlatformLimits, *, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        s = limits.scale
        self._clock = clock
        self._discord_global = TokenBucket(limits.discord_global_per_s * limits.headroom * s, 1, clock=clock)
        per_channel = limits.discord_channel_messages / limits.discord_channel_window_s
        self._discord_channels = KeyedBuckets(per_channel * s, limits.discord_channel_messages, clock=clock)
        self._telegram_global = TokenBucket(limits.telegram_global_per_s * limits.headroom * s, 1, clock=clock)
        self._telegram_private = KeyedBuckets(limits.telegram_private_per_s * s, 1, clock=clock)
        self._telegram_groups = KeyedBuckets(limits.telegram_group_per_min / 60.0 * s, 1, clock=clock)
        self._sms_numbers = KeyedBuckets(limits.sms_per_number_per_s * limits.headroom * s, 1, clock=clock)
        self._windows = {
            "discord": self._new_window(limits.discord_global_per_s),
            "telegram": self._new_window(limits.telegram_global_per_s),
        }
        self._sms_windows: dict[str, SlidingWindow] = {}

    def _new_window(self, per_s: float) -> SlidingWindow:
        """The platform's own count: ``per_s`` at this scale, in any one second."""
        return SlidingWindow(max(1, math.floor(per_s * self.limits.scale + 1e-9)), clock=self._clock)

    def buckets(
        self, platform: str, address: str, *, sender: str = "", requests: int = 1
    ) -> list[tuple[TokenBucket, float]]:
        """The buckets a direct send to ``address`` on ``platform`` draws from, with its cost in each.
        ``requests`` is how many HTTP requests the send makes (a first Discord DM: two)."""
        if platform == "discord":
            return [(self._discord_channels.get(address), 1.0), (self._discord_global, float(requests))]
        if platform == "telegram":
            chats = self._telegram_groups if address.startswith("-") else self._telegram_private
            chat = chats.get(address)
            return [(chat, 1.0), (self._telegram_global, float(requests))]
        if platform == "sms":
            return [(self._sms_numbers.get(sender or "default"), float(requests))]
        return []

    def reserve(self, platform: str, address: str, *, sender: str = "", requests: int = 1) -> float:
        """Book a send in every bucket that applies, at the first moment all of them allow; returns how
        long to wait before sending. Booking every bucket at that same moment matters: a per-chat slot
        booked earlier than the send really goes out would let the next send to that chat come too soon."""
        now = self._clock()
        buckets = self.buckets(platform, address, sender=sender, requests=requests)
        send_at = now
        while True:
            later = max((bucket.conforming_at(send_at) for bucket, _cost in buckets), default=send_at)
            if later <= send_at:
                break
            send_at = later
        for bucket, cost in buckets:
            bucket.book(send_at, cost)
        return send_at - now

    def _window(self, platform: str, sender: str) -> SlidingWindow | None:
        if platform == "sms":
            key = sender or "default"
            window = self._sms_windows.get(key)
            if window is None:
                window = self._sms_windows[key] = self._new_window(self.limits.sms_per_number_per_s)
            return window
        return self._windows.get(platform)

    async def acquire(self, platform: str, address: str, *, sender: str = "", requests: int = 1) -> None:
        """Wait for the booked slot. The frontend then makes each of its requests inside ``request``."""
        delay = self.reserve(platform, address, sender=sender, requests=requests)
        if delay > 0:
            await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def request(self, platform: str, *, sender: str = "") -> AsyncIterator[None]:
        """Hold a place in the platform's window for one request: wait for one, take it, make the
        request in the body (with nothing else awaited before it), give the place back after."""
        window = self._window(platform, sender)
        if window is None:
            yield
            return
        while (wait := window.wait_time()) != 0.0:
            await asyncio.sleep(_ANSWER_POLL_S if wait is None else wait)
        window.take()
        try:
            yield
        finally:
            window.answered()

    def pause(self, platform: str, seconds: float, *, address: str | None = None, sender: str = "") -> None:
        """Honour a ``retry_after``: the whole platform if no address is given, else that chat."""
        if platform == "discord":
            (self._discord_channels.get(address) if address else self._discord_global).pause(seconds)
        elif platform == "telegram":
            if address is None:
                self._telegram_global.pause(seconds)
            else:
                for bucket, _cost in self.buckets(platform, address):
                    bucket.pause(seconds)
        elif platform == "sms":
            self._sms_numbers.get(sender or "default").pause(seconds)

    def rate(self, platform: str) -> float:
        """Direct sends per second the platform allows at this scale (used to size in-flight work)."""
        limits, s = self.limits, self.limits.scale
        if platform == "discord":
            return limits.discord_global_per_s * limits.headroom * s / limits.discord_requests_per_dm
        if platform == "telegram":
            return limits.telegram_global_per_s * limits.headroom * s
        if platform == "sms":
            return limits.sms_per_number_per_s * limits.headroom * s
        return 100.0
