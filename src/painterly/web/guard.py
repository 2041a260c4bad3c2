"""Who may talk to the studio: an ASGI middleware in front of every request.

In order, it answers

- 421 to a ``Host`` that is not an address the studio serves (DNS rebinding),
- 401 without the token, when the studio has one (``Authorization: Bearer TOKEN``, or
  the cookie set by opening ``/?token=TOKEN``),
- 403 to a state-changing request from another site (its ``Origin``, or ``Referer``
  where there is no ``Origin``, names another host),

adds the usual security headers to every answer, and gives a request's body a time
limit (:class:`BodyTimeout`, answered 408 by the app).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "painterly_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("0.0.0.0", "::", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class BodyTimeout(Exception):
    """A request's body did not arrive in time."""


@dataclass(frozen=True)
class Access:
    """Where the studio listens and what a request must carry to be answered."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    body_timeout: float = 30.0  # seconds for a whole request body
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = {*LOOPBACK_NAMES, _bracketed(self.host).lower()}
        if self.host in WILDCARD:  # every name of this machine
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        object.__setattr__(self, "names", frozenset(names - {""}))

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def allows_host(self, value: str) -> bool:
        """Whether a ``Host`` header (``name:port``) names this studio."""
        try:
            parts = urlsplit(f"http://{value}")
            port = parts.port or 80
            name = (parts.hostname or "").lower()
        except ValueError:
            return False
        if port != self.port:
            return False
        shown = f"[{name}]" if ":" in name else name
        if shown in self.names:
            return True
        # An address written out is never rebound by DNS: on a wildcard bind every
        # address of the machine is this studio.
        return self.host in WILDCARD and _is_ip(name)

    def url(self, with_token: bool = True) -> str:
        shown = "127.0.0.1" if self.host in WILDCARD else _bracketed(self.host)
        query = f"/?token={self.token}" if self.token and with_token else ""
        return f"http://{shown}:{self.port}{query}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Guard:
    """The ASGI middleware; ``access`` says what a request must carry."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, _with_deadline(receive, self.access.body_timeout), send_with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[Any, ...] | None:
        """(status, message[, extra headers]) for a refused request, else None."""
        host = headers.get("host", "")
        if not self.access.allows_host(host):
            return 421, f"this studio answers at {self.access.url(False)}, not at '{host[:80]}'"
        token = self.access.token
        if token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if scope["method"] == "GET" and "token" in query:
                return _token_from_url(scope, query, token)
            if not _carries(headers, token):
                return 401, (
                    "this studio needs its token: open the address 'painterly serve' printed "
                    "(ending in ?token=…) or send 'Authorization: Bearer TOKEN'"
                )
        if scope["method"] not in SAFE_METHODS:
            source = headers.get("origin") or headers.get("referer")
            if source is not None and not self._same_site(source):
                return 403, (
                    f"a request from '{source[:80]}' may not change this studio: "
                    "use the studio's own page"
                )
        return None

    def _same_site(self, source: str) -> bool:
        try:
            parts = urlsplit(source)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and self.access.allows_host(parts.netloc)


def _carries(headers: dict[str, str], token: str) -> bool:
    bearer = headers.get("authorization", "")
    if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].encode(), token.encode()):
        return True
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header carries no token
        return False
    sent = cookie.get(COOKIE)
    return sent is not None and hmac.compare_digest(sent.value.encode(), token.encode())


def _token_from_url(scope: Scope, query: dict[str, str], token: str) -> tuple[Any, ...]:
    """Opening ``/?token=TOKEN``: set the cookie and go to the same page without it."""
    if not hmac.compare_digest(query["token"].encode(), token.encode()):
        return 401, "the token in the address is wrong: open the address 'painterly serve' printed"
    rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
    location = scope["path"] + (f"?{rest}" if rest else "")
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    return (
        303,
        "the token is set: going on",
        [(b"location", location.encode()), (b"set-cookie", cookie.encode())],
    )


async def _answer(send: Send, status: int, message: str, extra: Any = ()) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *HEADERS,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_deadline(receive: Receive, seconds: float) -> Receive:
    """``receive`` whose body messages must all arrive within ``seconds`` of the first
    call; once the body is complete it waits freely (for a disconnect)."""
    deadline: float | None = None
    complete = False

    async def bounded() -> Message:
        nonlocal deadline, complete
        if complete:
            return await receive()
        if deadline is None:
            deadline = time.monotonic() + seconds
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise BodyTimeout(f"the request's body did not arrive within {seconds:.0f} s") from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            complete = True
        return message

    return bounded
