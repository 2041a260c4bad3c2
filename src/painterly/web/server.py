"""The studio on uvicorn, with limits for slow and many clients and a clean stop.

uvicorn bounds idle keep-alive connections, the size of a request's head
(``h11_max_incomplete_event_size``) and the number of connections
(``limit_concurrency``, answered 503), but not the time a client may take to send its
headers: :class:`TimedH11Protocol` closes a connection whose request head is not
complete within ``HEAD_TIMEOUT`` seconds. Bodies have their own limit (see ``guard``).

On SIGINT or SIGTERM, :class:`StudioServer` tells the studio at once (it stops taking
jobs, interrupts the running one and ends the event streams), then uvicorn stops
within ``GRACE`` seconds and the app's lifespan waits for the interrupted run to be
saved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import h11
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

GRACE = 3  # seconds uvicorn waits for open requests once stopping


@dataclass(frozen=True)
class ServerLimits:
    """Connection limits; the defaults suit one person with a few tabs."""

    max_connections: int = 600  # beyond: 503 (the process may open about 1,000 files)
    head_timeout: float = 10.0  # seconds to send a request's headers
    keep_alive: int = 5  # seconds an idle connection stays open
    max_head_bytes: int = 16 * 1024  # a request's line and headers


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that send their head too slowly."""

    head_timeout = ServerLimits.head_timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and self._head_timer is None:
            self._arm()  # the next request's head has begun

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_overdue)

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # still no complete request head


class StudioServer(uvicorn.Server):
    """uvicorn's server, telling the studio of a stop signal as soon as it comes, and
    returning normally after it (uvicorn would raise the signal again)."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_stop()
        if self.should_exit:
            self.force_exit = True  # a second signal: stop now
        self.should_exit = True


def make_server(
    app: Starlette, host: str, port: int, limits: ServerLimits | None = None, **extra: Any
) -> StudioServer:
    """A uvicorn server for the studio ``app`` (made by ``create_app``)."""
    limits = limits or ServerLimits()
    protocol = type("Protocol", (TimedH11Protocol,), {"head_timeout": limits.head_timeout})
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive,
        timeout_graceful_shutdown=GRACE,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        log_level="warning",
        **extra,
    )
    return StudioServer(config, app.state.studio.stop)
