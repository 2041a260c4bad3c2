"""The studio's HTTP API and page, a thin Starlette adapter over the library.

Everything the page needs is served from the package: no request leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import explain
from .._version import __version__
from ..config import PRESETS, Config
from ..errors import PainterlyError
from ..layers import CONV_NAMES
from .form import FIELDS, FormError, FormLimits, validate, with_regions
from .jobs import Job, JobQueue, QueueFull
from .store import Limits, Store, UploadRejected

STATIC = Path(__file__).parent / "static"
MAX_JSON = 64 * 1024


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(
    results: Path,
    workers: int = 1,
    queue_limit: int = 8,
    limits: Limits | None = None,
    form_limits: FormLimits | None = None,
    queue: JobQueue | None = None,
) -> Starlette:
    """The studio for a results folder; ``queue`` may be given (tests use a fake runner)."""
    store = Store(results, limits)
    jobs = queue or JobQueue(store, workers, queue_limit)
    bounds = form_limits or FormLimits()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def options(request: Request) -> Response:
        defaults = Config()
        return JSONResponse(
            {
                "version": __version__,
                "fields": {k: _jsonable(getattr(defaults, k)) for k in FIELDS},
                "presets": {k: {f: _jsonable(v) for f, v in p.items()} for k, p in PRESETS.items()},
                "choices": _choices(),
                "layers": list(CONV_NAMES),
                "bundled": store.bundled_ids(),
                "masks": store.mask_ids(),
                "limits": dataclasses.asdict(bounds),
                "upload": dataclasses.asdict(store.limits),
            }
        )

    async def upload(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if not length.isdigit():  # browsers always send it; never spool an unbounded body
            return error(411, "send the upload with a Content-Length")
        declared = int(length)
        if declared > store.limits.max_bytes + 64 * 1024:
            return error(413, store.too_big(declared))
        form = await request.form(max_files=1, max_fields=2)
        try:
            file = form.get("file")
            if file is None or isinstance(file, str):
                return error(400, "send the image as the form field 'file'")
            data = await file.read(store.limits.max_bytes + 1)
        finally:
            await form.close()  # the spooled temporary file goes now
        try:
            saved = await run_in_threadpool(store.save_upload, data)
        except UploadRejected as exc:
            return error(exc.status, str(exc))
        return JSONResponse(saved, status_code=201)

    async def image(request: Request) -> Response:
        try:
            path = store.image_path(request.path_params["image_id"])
        except PainterlyError as exc:
            return error(404, str(exc))
        return FileResponse(path)

    async def submit(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        content, styles = body.get("content"), body.get("styles")
        if not isinstance(content, str) or not isinstance(styles, list) or not styles:
            return error(422, "choose a photo and at least one style image", field="images")
        try:
            photo = store.image_path(content)
            for image_id in styles:
                store.image_path(str(image_id))
            cfg, form = validate(
                body.get("preset", "default"), body.get("params", {}), len(styles), bounds
            )
            cfg, regions = await run_in_threadpool(
                with_regions,
                cfg,
                body.get("masks"),
                body.get("content_mask"),
                len(styles),
                photo,
                store.image_path,
            )
            form.update(regions)
        except FormError as exc:
            return error(422, "some fields are out of range", fields=exc.errors)
        except PainterlyError as exc:
            return error(422, str(exc), field="images")
        form.update(content=content, styles=styles)
        job = Job(store.new_run_id(), cfg, content, [str(s) for s in styles], form)
        try:
            position = jobs.submit(job)
        except QueueFull as exc:
            return error(429, str(exc))
        return JSONResponse({"id": job.id, "position": position}, status_code=202)

    async def events(request: Request) -> Response:
        job = jobs.jobs.get(request.path_params["job_id"])
        if job is None:
            return error(404, "no such job: it ended before this server started")
        start = int(request.headers.get("last-event-id") or -1) + 1
        return StreamingResponse(_stream(job, start, request), media_type="text/event-stream")

    async def cancel(request: Request) -> Response:
        job = jobs.cancel(request.path_params["job_id"])
        if job is None:
            return error(404, "no such job")
        return JSONResponse({"id": job.id, "state": job.state})

    async def results_list(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(store.list_runs))

    async def result_file(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            folder = store.run_dir(request.path_params["run_id"])
        except PainterlyError as exc:
            return error(404, str(exc))
        path = folder / ("image.png" if name == "image.png" else "record.json")
        if name not in ("image.png", "record.json") or not (folder / "record.json").is_file():
            return error(404, "no such file")
        filename = f"painterly-{folder.name}.{'png' if name == 'image.png' else 'json'}"
        disposition = "attachment" if "download" in request.query_params else "inline"
        return FileResponse(
            path, headers={"content-disposition": f'{disposition}; filename="{filename}"'}
        )

    async def inside(request: Request) -> Response:
        kind = request.path_params["kind"]
        image_id, layer = (
            request.query_params.get("image", ""),
            request.query_params.get("layer", ""),
        )
        if kind not in ("features", "gram") or layer not in CONV_NAMES:
            return error(404, "ask for features or gram at a convolution layer")
        try:
            path = store.image_path(image_id)
        except PainterlyError as exc:
            return error(404, str(exc))
        png = await run_in_threadpool(_inside_png, kind, str(path), layer)
        return Response(png, media_type="image/png")

    routes = [
        Route("/", index),
        Route("/api/options", options),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/images/{image_id}", image),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{job_id}/events", events),
        Route("/api/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/api/results", results_list),
        Route("/api/results/{run_id}/{name}", result_file),
        Route("/api/inside/{kind}", inside),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs, app.state.store = jobs, store
    return app


async def _json(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if len(body) > MAX_JSON:
        return error(413, "the request is too large")
    try:
        data = json.loads(body)
    except ValueError:
        return error(400, "send the run as JSON")
    return data if isinstance(data, dict) else error(400, "send the run as a JSON object")


async def _stream(job: Job, start: int, request: Request) -> AsyncIterator[str]:
    """Server-sent events: ``id``, ``event`` and one ``data`` line of JSON each; the
    stream ends after the job's last event."""
    sent = start
    while True:
        while sent < len(job.events):
            event = job.events[sent]
            payload = json.dumps({k: v for k, v in event.items() if k != "event"})
            yield f"id: {sent}\nevent: {event['event']}\ndata: {payload}\n\n"
            sent += 1
        if job.finished and sent >= len(job.events):
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.1)


@lru_cache(maxsize=32)
def _inside_png(kind: str, path: str, layer: str) -> bytes:
    from .. import figures

    maps = explain.feature_maps(path, [layer], size=256)[layer]
    if kind == "features":
        chosen = {layer: explain.top_filters(maps, 4)}
        fig = figures.feature_grid({layer: maps}, chosen, f"{layer}: the 4 strongest filters")
    else:
        corr = explain.correlation(maps[:64])
        pairs = explain.strongest_pairs(corr, 8)
        fig = figures.gram_figure([(layer, corr)], pairs, f"Filter correlations at {layer}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _choices() -> dict[str, list[str]]:
    out = {}
    for f in dataclasses.fields(Config):
        if f.metadata.get("choices") and f.name in FIELDS:
            out[f.name] = list(f.metadata["choices"])
    out["init"] = ["content", "noise"]
    return out
