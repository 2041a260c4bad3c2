"""Fast models in the studio: the models of one folder (``painterly serve --models``),
and a photo painted by one of them in a single pass, answered at once as a PNG.

A model is addressed by its file name, which must match :data:`MODEL_ID` and name a
file in that folder: no name a client sends becomes a path. One picture is painted at
a time, at most :attr:`Models.waiting` wait for it (429 beyond), at the page's size
within the server's ``--max-size``; the last :data:`LOADED` models stay loaded.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..cluster.model_task import PASS_SETTINGS, pass_settings
from ..errors import ModelError, PainterlyError
from ..fast.apply import stylize_with_model
from ..fast.model import SUFFIX, FastModel, load_model, read_metadata
from ..files import images
from .api import _json, error
from .form import FormError, FormLimits, validate
from .state import studio

log = logging.getLogger(__name__)
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.safetensors$")
LOADED = 4  # models kept loaded (the standard network is about 7 MB)


class Models:
    """The models of ``folder`` (it may not exist yet: then there are none)."""

    def __init__(self, folder: Path, waiting: int = 2) -> None:
        self.folder, self.waiting = folder, waiting
        self.pending = 0  # paintings running or waiting, counted in the event loop
        self._painting = threading.Lock()
        self._loading = threading.Lock()
        self._loaded: OrderedDict[tuple[str, int, int], FastModel] = OrderedDict()

    def listing(self) -> list[dict[str, Any]]:
        """Each readable model with its styles and training; other files are left out."""
        found = []
        files = sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []
        for path in files:
            if not MODEL_ID.match(path.name):
                continue
            try:
                meta = read_metadata(path)
                styles = [s["name"] for s in json.loads(meta["styles"])]
                training = json.loads(meta.get("training", "{}"))
            except (ModelError, ValueError, KeyError, TypeError) as exc:
                log.info("%s is not listed: %s", path.name, exc)
                continue
            keep = ("network", "steps", "seconds", "held_out_loss")
            summary = {k: training[k] for k in keep if k in training}
            found.append({"id": path.name, "styles": styles, "training": summary})
        return found

    def path(self, model_id: str) -> Path:
        if MODEL_ID.match(model_id) and (self.folder / model_id).is_file():
            return self.folder / model_id
        raise ModelError(f"unknown model '{model_id[:80]}': pick one of the models listed")

    def load(self, model_id: str) -> FastModel:
        """The model, loaded again when its file changed."""
        path = self.path(model_id)
        stat = path.stat()
        key = (model_id, stat.st_mtime_ns, stat.st_size)
        with self._loading:
            model = self._loaded.pop(key, None) or load_model(path)
            self._loaded[key] = model
            while len(self._loaded) > LOADED:
                self._loaded.popitem(last=False)
        return model

    def paint(self, model: FastModel, photo: Path, settings: dict[str, Any]) -> bytes:
        """The PNG of ``photo`` painted by ``model`` with the pass's ``settings``."""
        with self._painting:
            picture = stylize_with_model(model, photo, **settings)
        buffer = io.BytesIO()
        images.tensor_to_pil(picture).save(buffer, format="PNG")
        return buffer.getvalue()


def models(request: Request) -> Models:
    found: Models = request.app.state.models
    return found


async def models_list(request: Request) -> Response:
    return JSONResponse({"models": await run_in_threadpool(models(request).listing)})


async def paint(request: Request) -> Response:
    """``POST /api/models/{model_id}/paint`` with ``{"content": image id, "params":
    {size, style_weights, preserve_colors, strength}}``: the picture as a PNG."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error(415, "send the request as JSON, with Content-Type: application/json")
    body = await _json(request)
    if isinstance(body, Response):
        return body
    st, shelf = studio(request), models(request)
    try:
        model_id = shelf.path(request.path_params["model_id"]).name
        photo = st.store.image_path(str(body.get("content", "")))
    except PainterlyError as exc:
        return error(404, str(exc))
    try:
        model = await run_in_threadpool(shelf.load, model_id)
    except ModelError as exc:
        return error(422, str(exc), field="model")
    try:
        settings = _settings(body.get("params", {}), len(model.styles), st.bounds)
    except FormError as exc:
        return error(422, "some fields are out of range", fields=exc.errors)
    if shelf.pending > shelf.waiting:
        return error(429, "the studio is painting other pictures: try again in a moment")
    shelf.pending += 1
    try:
        png = await run_in_threadpool(shelf.paint, model, photo, settings)
    except PainterlyError as exc:
        return error(422, str(exc), field="content")
    finally:
        shelf.pending -= 1
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


def _settings(params: Any, styles: int, bounds: FormLimits) -> dict[str, Any]:
    """The pass's settings from a page's params, checked as the studio's form is."""
    if not isinstance(params, dict):
        raise FormError({"params": "params must be an object of field: value"})
    other = [k for k in params if k not in PASS_SETTINGS]
    if other:
        raise FormError({k: f"'{k}' does not change a fast model's picture" for k in other})
    limits = dataclasses.replace(bounds, max_styles=max(bounds.max_styles, styles))
    cfg, _ = validate("default", params, styles, limits)
    return pass_settings(cfg)
