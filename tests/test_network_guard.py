"""The guard in conftest refuses anything but loopback, and fails the test even if the error is caught."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from tests import conftest


def test_outside_connections_are_refused_and_recorded() -> None:
    with pytest.raises(ConnectionRefusedError, match="only loopback"):
        socket.create_connection(("192.0.2.10", 443), timeout=1)
    with pytest.raises(socket.gaierror, match="only loopback"):
        socket.getaddrinfo("discord.com", 443)
    recorded = list(conftest._violations)
    conftest._violations.clear()  # this test provoked them on purpose
    assert len(recorded) == 2 and "192.0.2.10" in recorded[0] and "discord.com" in recorded[1]


async def test_async_clients_are_caught_too() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            await session.get("http://198.51.100.7/", timeout=aiohttp.ClientTimeout(total=2))
    assert conftest._violations, "the aiohttp connection attempt was not seen"
    conftest._violations.clear()


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
    assert not conftest._violations
