"""The studio's HTTP API and page, a thin Starlette adapter over the library.

Everything the page needs is served from the package: no request leaves the machine.
The handlers live in :mod:`painterly.web.api` and :mod:`painterly.web.inside`; this
module builds the app, its guard (:mod:`painterly.web.guard`) and its lifespan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._version import __version__
from ..config.settings import PRESETS, Config
from ..errors import PainterlyError
from ..nn.layers import CONV_NAMES
from ..transfer.result import Result
from ..transfer.run import run
from . import api, fast
from .form import FIELDS, FormError, FormLimits
from .guard import Access, BodyTimeout, Guard
from .inside import has_matplotlib, inside
from .jobs import JobQueue
from .state import StreamLimits, Studio, studio
from .store import Limits, Store

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
STOP_WAIT = 6.0  # seconds the lifespan waits for an interrupted run to be saved
START = ("b-tubingen.jpg", "b-starry_night.jpg")  # the photo and painting chosen at first


def create_app(  # noqa: PLR0913 - each a part of the studio, tests set any of them
    results: Path,
    workers: int = 1,
    queue_limit: int = 8,
    limits: Limits | None = None,
    form_limits: FormLimits | None = None,
    queue: JobQueue | None = None,
    access: Access | None = None,
    streams: StreamLimits | None = None,
    runner: Callable[..., Result] | None = None,
    models: Path | None = None,
) -> Starlette:
    """The studio for a results folder; ``queue`` may be given (tests use a fake
    runner), or the ``runner`` of its runs (a cluster's); its fast models are those in
    ``models`` (default ``results/models``). Nothing runs until the app starts (its
    lifespan starts the workers)."""
    store = Store(results, limits)
    access = access or Access()
    state = Studio(
        store=store,
        jobs=queue or JobQueue(store, workers, queue_limit, runner or run),
        bounds=form_limits or FormLimits(),
        access=access,
        streams=streams or StreamLimits(),
    )
    routes = [
        Route("/", index),
        Route("/api/options", options),
        Route("/api/uploads", api.upload, methods=["POST"]),
        Route("/api/images/{image_id}", api.image),
        Route("/api/jobs", api.submit, methods=["POST"]),
        Route("/api/jobs/{job_id}/events", api.events),
        Route("/api/jobs/{job_id}/cancel", api.cancel, methods=["POST"]),
        Route("/api/results", api.results_list),
        Route("/api/results/{run_id}/{name}", api.result_file),
        Route("/api/inside/{kind}", inside),
        Route("/api/models", fast.models_list),
        Route("/api/models/{model_id}/paint", fast.paint, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, access=access)],
        exception_handlers={BodyTimeout: _too_slow},
        lifespan=lifespan,
    )
    app.state.studio = state
    app.state.models = fast.Models(models if models is not None else results / "models")
    return app


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Clean what a killed server left, put the runs it kept back in the queue, start
    the workers; at the end wait for an interrupted run to be saved."""
    st: Studio = app.state.studio
    removed = st.store.clean_leftovers()
    if removed:
        log.warning("removed %d half-written file(s) left by an earlier server", len(removed))
    restore(st)
    st.jobs.start()
    yield
    st.stop()
    if not st.jobs.join(STOP_WAIT):
        log.warning("a run did not stop in time: it stays queued for the next start")
    st.inside_pool.shutdown(wait=False, cancel_futures=True)
    st.upload_pool.shutdown(wait=False, cancel_futures=True)


def restore(st: Studio) -> None:
    """Queue again the runs a stopped server kept, under their ids."""
    for request in st.store.load_queue():
        run_id = str(request.get("id", ""))
        try:
            st.store.run_dir(run_id)
            job = api.build_job(st, request, run_id)
        except (PainterlyError, FormError) as exc:
            log.warning("a kept run cannot run again and is dropped: %s", exc)
            continue
        st.jobs.submit(job, restored=True)


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def options(request: Request) -> Response:
    st = studio(request)
    defaults = Config()
    return JSONResponse(
        {
            "version": __version__,
            "fields": {k: _jsonable(getattr(defaults, k)) for k in FIELDS},
            "presets": {k: {f: _jsonable(v) for f, v in p.items()} for k, p in PRESETS.items()},
            "choices": _choices(),
            "layers": list(CONV_NAMES),
            "bundled": st.store.bundled_ids(),
            "start": {"content": START[0], "styles": [START[1]]},
            "masks": st.store.mask_ids(),
            "limits": dataclasses.asdict(st.bounds),
            "upload": dataclasses.asdict(st.store.limits),
            "inside": has_matplotlib(),
        }
    )


async def _too_slow(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=408, headers={"connection": "close"})


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _choices() -> dict[str, list[str]]:
    out = {}
    for f in dataclasses.fields(Config):
        if f.metadata.get("choices") and f.name in FIELDS:
            out[f.name] = list(f.metadata["choices"])
    return out
