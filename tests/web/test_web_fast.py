"""Fast models in the studio, through Starlette's test client: the models of a folder
listed, a photo painted by one as soon as it is uploaded, and each bad request."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

pytest.importorskip("starlette", reason="the studio needs painterly[web]")
from starlette.testclient import TestClient

from helpers import DATA
from painterly.fast.apply import stylize_with_model
from painterly.fast.model import load_model
from painterly.files import images
from painterly.web.app import create_app

BASE = "http://127.0.0.1:8000"
PARAMS = {"size": 48, "style_weights": [0.25, 0.75], "preserve_colors": "histogram"}


@pytest.fixture
def models(tmp_path: Path, tiny_model: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(tiny_model, folder / "tiny.safetensors")
    (folder / "junk.safetensors").write_bytes(b"not a model")
    shutil.copy(tiny_model, folder / "has space.safetensors")  # not a name the page may send
    return folder


@pytest.fixture
def client(tmp_path: Path, models: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "results", models=models)
    with TestClient(app, base_url=BASE) as c:
        yield c


def _paint(client: TestClient, content: str, model: str = "tiny.safetensors", **extra: Any) -> Any:
    body = {"content": content, "params": {**PARAMS, **extra}}
    return client.post(f"/api/models/{model}/paint", json=body)


def test_the_page_loads_the_fast_script_and_lists_the_models(client: TestClient) -> None:
    assert '<script src="/static/fast.js"></script>' in client.get("/").text
    script = client.get("/static/fast.js")
    assert script.status_code == 200 and "/api/models" in script.text
    assert "http://" not in script.text
    listed = client.get("/api/models").json()["models"]
    assert [m["id"] for m in listed] == ["tiny.safetensors"]
    assert listed[0]["styles"] == ["starry_night", "the_scream"]
    assert listed[0]["training"]["steps"] == 4 and listed[0]["training"]["network"] == "small"


def test_an_uploaded_photo_is_painted_at_once(client: TestClient, tiny_model: Path) -> None:
    data = (DATA / "shipwreck.jpg").read_bytes()
    upload = client.post("/api/uploads", files={"file": ("s.jpg", data, "image/jpeg")})
    assert upload.status_code == 201
    answer = _paint(client, upload.json()["id"], strength=0.6)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    got = images.load_image(Image.open(io.BytesIO(answer.content)))
    want = stylize_with_model(
        load_model(tiny_model),
        DATA / "shipwreck.jpg",
        style_weights=[0.25, 0.75],
        size=48,
        preserve_colors="histogram",
        strength=0.6,
    )
    assert max(got.shape[-2:]) == 48
    assert (got - want).abs().max() <= 0.5 / 255 + 1e-6  # the same pass, rounded to 8 bits
    other = _paint(client, upload.json()["id"], style_weights=[1, 0])
    assert not torch.equal(images.load_image(Image.open(io.BytesIO(other.content))), got)


def test_the_default_models_folder_is_the_results_ones(tmp_path: Path, tiny_model: Path) -> None:
    results = tmp_path / "results"
    (results / "models").mkdir(parents=True)
    shutil.copy(tiny_model, results / "models" / "mine.safetensors")
    with TestClient(create_app(results), base_url=BASE) as c:
        assert [m["id"] for m in c.get("/api/models").json()["models"]] == ["mine.safetensors"]
        assert _paint(c, "b-tubingen.jpg", "mine.safetensors").status_code == 200
    with TestClient(create_app(tmp_path / "empty"), base_url=BASE) as c:
        assert c.get("/api/models").json() == {"models": []}  # no folder: no models
        assert not (tmp_path / "empty" / "models").exists()


@pytest.mark.parametrize(
    ("model", "extra", "status", "says"),
    [
        ("nothing.safetensors", {}, 404, "unknown model 'nothing.safetensors'"),
        ("junk.safetensors", {}, 422, "not a safetensors file"),
        ("has space.safetensors", {}, 404, "unknown model"),
        ("tiny.safetensors", {"style_weights": [1.0]}, 422, "give exactly 2"),
        ("tiny.safetensors", {"size": 4096}, 422, "over this server's 1024 px"),
        ("tiny.safetensors", {"iterations": 5}, 422, "does not change a fast model"),
        ("tiny.safetensors", {"preserve_colors": "sepia"}, 422, "not one of"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(
    client: TestClient, model: str, extra: dict[str, Any], status: int, says: str
) -> None:
    answer = _paint(client, "b-tubingen.jpg", model, **extra)
    assert answer.status_code == status
    body = answer.json()
    assert says in " ".join([body["error"], *body.get("fields", {}).values()])
    assert str(Path.cwd()) not in answer.text and "/tmp" not in answer.text


def test_an_unknown_photo_a_form_post_and_a_busy_studio_are_refused(client: TestClient) -> None:
    assert "unknown image" in _paint(client, "u-" + "0" * 32 + ".png").json()["error"]
    form = client.post("/api/models/tiny.safetensors/paint", data={"content": "b-tubingen.jpg"})
    assert form.status_code == 415
    shelf = client.app.state.models  # type: ignore[attr-defined]
    shelf.pending = shelf.waiting + 1  # as if that many paintings were running and waiting
    assert _paint(client, "b-tubingen.jpg").status_code == 429
    shelf.pending = 0
    assert _paint(client, "b-tubingen.jpg").status_code == 200
