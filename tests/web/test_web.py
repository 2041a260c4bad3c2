"""The studio's API through Starlette's test client, with real runs at tiny sizes."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the studio needs painterly[web]")
from starlette.testclient import TestClient

from painterly.web.app import create_app
from painterly.web.store import Limits
from studio_http import TINY, png

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "results", workers=1, queue_limit=1)
    with TestClient(app, base_url=BASE) as c:
        yield c


def job(client: TestClient, **params: Any) -> Any:
    body = {"content": "b-tubingen.jpg", "styles": ["b-starry_night.jpg"], "params": params}
    return client.post("/api/jobs", json=body)


def events(client: TestClient, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Read a job's event stream to its end, checking the wire format."""
    out: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        block: list[str] = []
        for line in response.iter_lines():
            if line:
                block.append(line)
                continue
            assert [b.split(":")[0] for b in block] == ["id", "event", "data"]
            assert block[0] == f"id: {len(out)}"
            out.append((block[1][len("event: ") :], json.loads(block[2][len("data: ") :])))
            block = []
    return out


def test_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "painterly studio" in page.text
    assert "http" not in page.text.replace('href="data:,"', "")  # nothing from outside
    for asset in ("/static/app.js", "/static/style.css"):
        response = client.get(asset)
        assert response.status_code == 200 and "http://" not in response.text
    options = client.get("/api/options").json()
    assert options["fields"]["style_weight"] == 2.5 and "article" in options["presets"]


def test_nothing_runs_until_the_app_starts_and_the_page_learns_the_images(
    tmp_path: Path,
) -> None:
    app = create_app(tmp_path / "results")
    queue = app.state.studio.jobs
    assert queue.threads == []  # building the app starts no worker
    with TestClient(app, base_url=BASE) as c:
        assert [t.is_alive() for t in queue.threads] == [True]
        options = c.get("/api/options").json()
        assert options["start"]["content"] in options["bundled"]
        assert set(options["start"]["styles"]) <= set(options["bundled"])
        script = c.get("/static/app.js").text
        assert not any(name[2:] in script for name in options["bundled"])
    assert [t.is_alive() for t in queue.threads] == [False]  # stopped with the app


def test_uploads_are_checked_by_content_and_stored_under_new_names(
    client: TestClient, tmp_path: Path
) -> None:
    good = client.post("/api/uploads", files={"file": ("../../evil.png", png(), "image/png")})
    assert good.status_code == 201
    image_id = good.json()["id"]
    assert image_id.startswith("u-") and image_id.endswith(".png") and "evil" not in image_id
    assert (tmp_path / "results" / "uploads" / image_id).is_file()
    assert not (tmp_path / "evil.png").exists()
    assert client.get(f"/api/images/{image_id}").content == png()
    text = client.post("/api/uploads", files={"file": ("photo.png", b"not an image", "image/png")})
    assert text.status_code == 415 and "not an image" in text.json()["error"]
    huge = client.post("/api/uploads", files={"file": ("big.png", png((8000, 6000), "L"))})
    assert huge.status_code == 413 and "48 MP" in huge.json()["error"]
    for bad in ("..%2F..%2Fetc%2Fpasswd", "u-zz.png", "b-../../x", "r-1"):
        assert client.get(f"/api/images/{bad}").status_code == 404


def test_oversized_uploads_are_refused(tmp_path: Path) -> None:
    app = create_app(tmp_path, limits=Limits(max_bytes=1000))
    with TestClient(app, base_url=BASE) as c:
        response = c.post("/api/uploads", files={"file": ("a.png", png((300, 300)) + b"\0" * 2000)})
        assert response.status_code == 413 and "MB limit" in response.json()["error"]
        chunks = iter([b"--x\r\n", b"\0" * 5000])  # no Content-Length: refused unread
        unsized = c.post(
            "/api/uploads",
            content=chunks,
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert unsized.status_code == 411


def test_out_of_range_parameters_name_their_field(client: TestClient) -> None:
    response = job(client, size=100000, style_weight=-1, iterations="many", weights="/etc/x")
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert "1024" in fields["size"] and "≥ 0" in fields["style_weight"]
    assert "number" in fields["iterations"] and "cannot be set" in fields["weights"]
    two = client.post(
        "/api/jobs",
        json={
            "content": "b-tubingen.jpg",
            "styles": ["b-starry_night.jpg"],
            "params": {"style_weights": [1, 2]},
        },
    )
    assert two.status_code == 422 and "style_weights" in two.json()["fields"]
    missing = client.post(
        "/api/jobs", json={"content": "u-" + "0" * 32 + ".png", "styles": ["b-x"]}
    )
    assert missing.status_code == 422 and missing.json()["field"] == "images"
    as_json = {"content-type": "application/json"}
    assert client.post("/api/jobs", content=b"{", headers=as_json).status_code == 400


def test_a_run_streams_events_and_lands_in_the_gallery(client: TestClient) -> None:
    response = job(client, **TINY)
    assert response.status_code == 202
    job_id = response.json()["id"]
    seen = events(client, job_id)
    kinds = [kind for kind, _ in seen]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "done"
    progress = [data for kind, data in seen if kind == "progress"]
    assert [p["step"] for p in progress] == [1, 2, 3]
    assert progress[-1]["preview"].startswith("data:image/jpeg;base64,")
    held = client.app.state.studio.jobs.jobs[job_id].events  # type: ignore[attr-defined]
    assert sum("preview" in e for e in held) == 1  # only the latest preview stays in memory
    assert {"style", "content", "total"} <= set(progress[-1]["losses"]) and "eta" in progress[-1]
    gallery = client.get("/api/results").json()
    assert gallery[0]["id"] == job_id and gallery[0]["form"]["size"] == 48
    image = client.get(f"/api/results/{job_id}/image.png?download")
    assert image.headers["content-disposition"].startswith("attachment")
    assert Image.open(io.BytesIO(image.content)).size == (48, 36)
    record = client.get(f"/api/results/{job_id}/record.json").json()
    assert record["config"]["size"] == 48 and record["form"]["styles"] == ["b-starry_night.jpg"]


def wait_for(predicate: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_queue_limit_and_cancel(client: TestClient) -> None:
    queue = client.app.state.studio.jobs  # type: ignore[attr-defined]
    first = job(client, size=32, iterations=3000).json()["id"]
    wait_for(lambda: queue.jobs[first].state == "running" and len(queue.jobs[first].events) > 3)
    second = job(client, size=32, iterations=3)
    assert second.status_code == 202 and second.json()["position"] == 1
    third = job(client, size=32, iterations=3)
    assert third.status_code == 429 and "queue is full" in third.json()["error"]
    assert client.post(f"/api/jobs/{second.json()['id']}/cancel").json()["state"] == "cancelled"
    client.post(f"/api/jobs/{first}/cancel")
    seen = events(client, first)
    assert seen[-1] == ("cancelled", seen[-1][1]) and seen[-1][1]["kept"] is True
    gallery = client.get("/api/results").json()
    assert [g["id"] for g in gallery] == [first] and gallery[0]["interrupted"] is True
    assert client.post("/api/jobs/r-0000000000000-000000/cancel").status_code == 404


def test_a_restarted_server_finds_earlier_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    with TestClient(create_app(results), base_url=BASE) as first:
        job_id = job(first, **TINY).json()["id"]
        events(first, job_id)
    (results / "runs" / "r-9999999999999-abcdef").mkdir()  # a run killed mid-write
    with TestClient(create_app(results), base_url=BASE) as again:
        gallery = again.get("/api/results").json()
        assert [g["id"] for g in gallery] == [job_id]
        assert again.get(f"/api/results/{job_id}/image.png").status_code == 200


def test_see_inside_draws_features_and_gram(client: TestClient) -> None:
    for kind in ("features", "gram"):
        response = client.get(f"/api/inside/{kind}?image=b-starry_night.jpg&layer=block1_conv1")
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).format == "PNG"
    assert client.get("/api/inside/gram?image=b-x.jpg&layer=block1_conv1").status_code == 404
    assert client.get("/api/inside/gram?image=b-tubingen.jpg&layer=nope").status_code == 404


def test_regions_come_from_image_ids_and_are_checked(client: TestClient) -> None:
    square = client.post("/api/uploads", files={"file": ("sq.png", png((40, 40)))}).json()["id"]
    base = {"content": "b-tubingen.jpg", "styles": ["b-starry_night.jpg", "b-the_scream.jpg"]}

    def submit(**extra: Any) -> Any:
        return client.post("/api/jobs", json={**base, "params": TINY, **extra})

    for masks, message in [
        ({"5": "b-tubingen_sky.png"}, "no painting number '5'"),
        ({"0": "../../etc/passwd"}, "unknown image"),
        ({"0": square}, "aspect ratio"),
    ]:
        response = submit(masks=masks)
        assert response.status_code == 422 and message in response.json()["fields"]["masks"]
    bad_keep = submit(content_mask=square)
    assert "aspect ratio" in bad_keep.json()["fields"]["content_mask"]
    good = submit(masks={"0": "b-tubingen_sky.png"}, content_mask="b-tubingen_sky.png")
    assert good.status_code == 202
    job_id = good.json()["id"]
    assert events(client, job_id)[-1][0] == "done"
    record = client.get(f"/api/results/{job_id}/record.json").json()
    assert record["config"]["masks"][0].startswith("0=") and record["config"]["content_mask"]
    assert record["form"]["masks"] == {"0": "b-tubingen_sky.png"}
    assert record["form"]["content_mask"] == "b-tubingen_sky.png"
