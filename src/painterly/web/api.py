"""The studio's HTTP handlers: module-level functions that find the studio on
``request.app.state`` (see :mod:`painterly.web.state`)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..errors import PainterlyError
from .form import FormError, validate, with_regions
from .jobs import Job, QueueClosed, QueueFull
from .refusals import Unwritable, UploadRejected, scrub
from .shapes import check_shapes
from .state import Studio, studio

MAX_JSON = 64 * 1024
EVENT_ID = re.compile(r"^[0-9]{1,9}$")


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": scrub(message), **extra}, status_code=status)


async def upload(request: Request) -> Response:
    """Store an image. Its size is checked from the header and its bytes looked up
    before anything is decoded; decodes are bounded (see :class:`~.store.Limits`)."""
    st = studio(request)
    limits = st.store.limits
    length = request.headers.get("content-length", "")
    if not length.isdigit():  # browsers always send it; never spool an unbounded body
        return error(411, "send the upload with a Content-Length")
    declared = int(length)
    if declared > limits.max_bytes + 64 * 1024:
        return error(413, st.store.too_big(declared))
    if st.uploads_pending >= limits.decoding + limits.waiting:
        busy = error(503, "the studio is checking other uploads: send it again in a moment")
        busy.headers["retry-after"] = str(limits.retry_after)
        return busy
    st.uploads_pending += 1
    try:
        return await _upload(request, st)
    finally:
        st.uploads_pending -= 1


async def _upload(request: Request, st: Studio) -> Response:
    form = await request.form(max_files=1, max_fields=2)
    try:
        file = form.get("file")
        if file is None or isinstance(file, str):
            return error(400, "send the image as the form field 'file'")
        data = await file.read(st.store.limits.max_bytes + 1)
    finally:
        await form.close()  # the spooled temporary file goes now
    try:
        seen = await run_in_threadpool(st.store.inspect, data)
        if not await run_in_threadpool(st.store.find, seen):
            loop = asyncio.get_running_loop()
            in_use = st.jobs.in_use()
            await loop.run_in_executor(st.upload_pool, st.store.keep, seen, data, in_use)
    except (UploadRejected, Unwritable) as exc:
        return error(exc.status, str(exc))
    return JSONResponse(seen.answer(), status_code=201)


async def image(request: Request) -> Response:
    try:
        path = studio(request).store.image_path(request.path_params["image_id"])
    except PainterlyError as exc:
        return error(404, str(exc))
    return FileResponse(path)


async def submit(request: Request) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error(415, "send the run as JSON, with Content-Type: application/json")
    body = await _json(request)
    if isinstance(body, Response):
        return body
    st = studio(request)
    try:
        await run_in_threadpool(st.store.check_writable)
    except Unwritable as exc:
        return error(exc.status, str(exc))
    try:
        job = await run_in_threadpool(build_job, st, body, st.store.new_run_id())
    except FormError as exc:
        fields = {k: scrub(v) for k, v in exc.errors.items()}
        return error(422, "some fields are out of range", fields=fields)
    except PainterlyError as exc:
        return error(422, str(exc), field="images")
    try:
        position = st.jobs.submit(job)
    except QueueFull as exc:
        return error(429, str(exc))
    except QueueClosed as exc:
        return error(503, str(exc))
    return JSONResponse({"id": job.id, "position": position}, status_code=202)


def build_job(st: Studio, body: dict[str, Any], run_id: str) -> Job:
    """A job from what a page sent, checked in full; raise FormError (per field) or
    PainterlyError (an unknown image)."""
    content, styles = body.get("content"), body.get("styles")
    if not isinstance(content, str) or not isinstance(styles, list) or not styles:
        raise FormError({"images": "choose a photo and at least one style image"})
    styles = [str(s) for s in styles]
    photo = st.store.image_path(content)
    paintings = [st.store.image_path(s) for s in styles[: st.bounds.max_styles]]
    cfg, form = validate(
        body.get("preset", "default"), body.get("params", {}), len(styles), st.bounds
    )
    cfg, regions = with_regions(
        cfg, body.get("masks"), body.get("content_mask"), len(styles), photo, st.store.image_path
    )
    check_shapes(cfg, photo, paintings, st.bounds.max_size)
    form.update(regions, content=content, styles=styles)
    keep = ("content", "styles", "preset", "params", "masks", "content_mask")
    request = {"id": run_id, **{k: body[k] for k in keep if k in body}}
    return Job(run_id, cfg, content, styles, form, request)


async def events(request: Request) -> Response:
    st = studio(request)
    job = st.jobs.jobs.get(request.path_params["job_id"])
    if job is None:
        return error(404, "no such job: it ended before this server started")
    last = request.headers.get("last-event-id")
    if last is not None and not EVENT_ID.match(last):
        return error(400, "Last-Event-ID must be a whole number ≥ 0", field="Last-Event-ID")
    start = int(last) + 1 if last is not None else 0
    if start > len(job.events):  # ids from before a restart: send everything again
        start = 0
    if st.open_streams >= st.streams.total:
        return error(429, f"{st.streams.total} event streams are open: close a tab")
    if job.streams >= st.streams.per_job:
        return error(429, f"{st.streams.per_job} pages already follow this run: close one")
    return CountedStream(st, job, _stream(st, job, start, request))


class CountedStream(StreamingResponse):
    """An event stream counted on its job and the studio while it is open."""

    def __init__(self, st: Studio, job: Job, content: AsyncIterator[str]) -> None:
        super().__init__(content, media_type="text/event-stream")
        self.studio, self.job = st, job
        self.headers["cache-control"] = "no-store"
        st.open_streams += 1
        job.streams += 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.studio.open_streams -= 1
            self.job.streams -= 1


async def _stream(st: Studio, job: Job, start: int, request: Request) -> AsyncIterator[str]:
    """Server-sent events: ``id``, ``event`` and one ``data`` line of JSON each; the
    stream ends after the job's last event, or when the server stops (a page then
    reconnects to the restarted server, which replays the job's events)."""
    sent = start
    while True:
        while sent < len(job.events):
            event = job.events[sent]
            payload = json.dumps({k: v for k, v in event.items() if k != "event"})
            yield f"id: {sent}\nevent: {event['event']}\ndata: {payload}\n\n"
            sent += 1
        if job.finished and sent >= len(job.events):
            return
        if st.stopping.is_set() and job.state != "running":
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.1)


async def cancel(request: Request) -> Response:
    job = studio(request).jobs.cancel(request.path_params["job_id"])
    if job is None:
        return error(404, "no such job")
    return JSONResponse({"id": job.id, "state": job.state})


async def results_list(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(studio(request).store.list_runs))


async def result_file(request: Request) -> Response:
    store, name = studio(request).store, request.path_params["name"]
    try:
        folder = store.run_dir(request.path_params["run_id"])
    except PainterlyError as exc:
        return error(404, str(exc))
    if name not in ("image.png", "record.json"):
        return error(404, "no such file")
    try:  # a damaged run is not in the gallery, nor are its files
        record = await run_in_threadpool(store.record, folder.name)
    except PainterlyError as exc:
        return error(404, str(exc))
    filename = f"painterly-{folder.name}.{'png' if name == 'image.png' else 'json'}"
    disposition = "attachment" if "download" in request.query_params else "inline"
    headers = {"content-disposition": f'{disposition}; filename="{filename}"'}
    if name == "image.png":
        return FileResponse(folder / name, headers=headers)
    return JSONResponse(record, headers=headers)


async def _json(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if len(body) > MAX_JSON:
        return error(413, "the request is too large")
    try:
        data = json.loads(body)
    except RecursionError:
        return error(400, "the JSON is nested too deeply: send the run as a flat object")
    except ValueError:
        return error(400, "send the run as JSON")
    return data if isinstance(data, dict) else error(400, "send the run as a JSON object")
