"""Who may talk to the studio (issue 12, points 1–3), through real HTTP: requests from
other sites, other Host names, without the token; the headers on every answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the studio needs painterly[web]")

from helpers import free_port
from painterly.cli import main
from painterly.files.samples import bundled
from painterly.web.guard import Access
from studio_http import BUNDLE, TINY, Studio, png

# --- 1. cross-site requests ------------------------------------------------------


def test_cross_site_requests_are_refused(serve: Callable[..., Studio]) -> None:
    studio = serve()
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    body = json.dumps({**BUNDLE, "params": TINY}).encode()
    for answer in (
        studio.request("POST", "/api/jobs", body, evil),
        studio.upload(png(), {"Origin": "http://evil.example"}),
        studio.request("POST", "/api/jobs/r-0000000000000-000000/cancel", b"", evil),
        studio.request("POST", "/api/jobs", body, {"Referer": "http://evil.example/page"}),
        studio.request("POST", "/api/jobs", body, {"Origin": "null"}),
    ):
        assert answer.status == 403 and "may not change this studio" in answer.json()["error"]
    assert not list((studio.results / "uploads").iterdir())
    own = {"Origin": f"http://127.0.0.1:{studio.port}", "Content-Type": "text/plain"}
    plain = studio.request("POST", "/api/jobs", body, own)
    assert plain.status == 415 and "application/json" in plain.json()["error"]
    good = studio.request(
        "POST", "/api/jobs", {**BUNDLE, "params": TINY}, {"Origin": own["Origin"]}
    )
    assert good.status == 202
    assert studio.events(good.json()["id"])[-1] == "done"


# --- 2. DNS rebinding ------------------------------------------------------------


def test_only_the_studios_own_host_is_answered(serve: Callable[..., Studio]) -> None:
    studio = serve()
    for path in ("/", "/api/results", "/api/images/b-tubingen.jpg", "/api/options"):
        answer = studio.request("GET", path, headers={"Host": "rebind.attacker.example"})
        assert answer.status == 421 and "rebind" in answer.json()["error"]
    other_port = studio.request("GET", "/", headers={"Host": "127.0.0.1:1"})
    assert other_port.status == 421
    for host in ("127.0.0.1", "localhost", "[::1]"):
        answer = studio.request("GET", "/api/options", headers={"Host": f"{host}:{studio.port}"})
        assert answer.status == 200


def test_records_served_over_http_show_no_server_path(
    serve: Callable[..., Studio], tmp_path: Path
) -> None:
    studio = serve()
    run = {**BUNDLE, "params": TINY, "content_mask": "b-tubingen_sky.png"}
    run["masks"] = {"0": "b-tubingen_sky.png"}
    job_id = studio.request("POST", "/api/jobs", run).json()["id"]
    assert studio.events(job_id)[-1] == "done"
    on_disk = (studio.results / "runs" / job_id / "record.json").read_text()
    served = studio.request("GET", f"/api/results/{job_id}/record.json").body.decode()
    package = str(bundled("tubingen.jpg").parent)
    assert package in on_disk  # the file keeps the paths; the server does not show them
    for secret in (str(tmp_path), package, str(Path.home())):
        assert secret not in served
    assert json.loads(served)["config"]["content_mask"] == "tubingen_sky.png"


# --- 3. exposure: token and headers ---------------------------------------------


def test_a_token_guards_every_request(serve: Callable[..., Studio]) -> None:
    port = free_port()
    studio = serve(access=Access(port=port, token="correct-horse"))
    for path in ("/", "/api/results", "/static/app.js", "/?token=wrong-horse"):
        answer = studio.request("GET", path)
        assert answer.status == 401 and "token" in answer.json()["error"]
    bearer = studio.request(
        "GET", "/api/results", headers={"Authorization": "Bearer correct-horse"}
    )
    assert bearer.status == 200
    opened = studio.request("GET", "/?token=correct-horse")
    assert opened.status == 303 and opened.headers["location"] == "/"
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = studio.request("GET", "/", headers={"Cookie": cookie.split(";")[0]})
    assert page.status == 200 and b"painterly studio" in page.body


def test_every_answer_carries_the_security_headers(serve: Callable[..., Studio]) -> None:
    studio = serve()
    for path in ("/", "/static/app.js", "/api/options", "/api/images/nope"):
        headers = {k.lower(): v for k, v in studio.request("GET", path).headers.items()}
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_a_non_loopback_address_gets_a_token_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    started: list[Any] = []

    class Idle:
        def __init__(self, app: Any, host: str, port: int) -> None:
            started.append(app)

        def run(self) -> None:
            return None

    monkeypatch.setattr("painterly.web.server.make_server", Idle)
    monkeypatch.delenv("PAINTERLY_TOKEN", raising=False)
    argv = ["serve", "--host", "0.0.0.0", "--port", "8765", "--results", str(tmp_path / "r")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    token = started[0].state.studio.access.token
    assert token and f"http://127.0.0.1:8765/?token={token}" in out
    monkeypatch.setenv("PAINTERLY_TOKEN", "from-the-environment")
    assert main(argv) == 0
    assert started[1].state.studio.access.token == "from-the-environment"
    assert main([*argv[:-2], "--host", "127.0.0.1", "--results", str(tmp_path / "r")]) == 0
    assert started[2].state.studio.access.token == "from-the-environment"
    monkeypatch.delenv("PAINTERLY_TOKEN")
    assert main(["serve", "--port", "8765", "--results", str(tmp_path / "r")]) == 0
    assert started[3].state.studio.access.token is None  # loopback: no token needed
