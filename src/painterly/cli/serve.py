"""``painterly serve``: the local web studio."""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import PainterlyError, require

if TYPE_CHECKING:
    from ..cluster.studio import ClusterRuns


@click.command(short_help="Open the local web studio.")
@click.option("--host", default="127.0.0.1", help="address to listen on  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, help="port  [default: 8000]")
@click.option(
    "--results",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("painterly-results"),
    help="folder for uploads and runs  [default: ./painterly-results]",
)
@click.option(
    "--models",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder of fast models (painterly train) to paint with  [default: RESULTS/models]",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=None,
    help="runs at a time  [1; with --cluster: its workers]",
)
@click.option(
    "--cluster",
    default=None,
    metavar="ADDR",
    help="run on the Dask scheduler ADDR (tcp://HOST:8786); previews are coarser",
)
@click.option(
    "--queue",
    "queue_limit",
    type=click.IntRange(1, 1000),
    default=8,
    help="runs that may wait  [8]",
)
@click.option(
    "--max-size",
    type=click.IntRange(64, 8192),
    default=1024,
    help="largest size a page may ask  [1024]",
)
@click.option(
    "--max-uploads-mb",
    type=click.IntRange(1, 10**7),
    default=1024,
    help="room for all uploads; the least recently used go first  [1024]",
)
@click.option(
    "--token",
    envvar="PAINTERLY_TOKEN",
    default=None,
    help="every request must carry it (made up when --host is not a loopback address)",
)
def serve(
    host: str,
    port: int,
    results: Path,
    models: Path | None,
    workers: int | None,
    cluster: str | None,
    queue_limit: int,
    max_size: int,
    max_uploads_mb: int,
    token: str | None,
) -> None:
    """Open the studio in a browser: stylise, watch the image form, keep every run.

    \b
    Example:
      painterly serve            # then open http://127.0.0.1:8000
      PAINTERLY_TOKEN=s3cret painterly serve --host 0.0.0.0
      painterly serve --cluster tcp://10.0.0.5:8786   # runs on a Dask scheduler's workers
    """
    for module in ("starlette", "uvicorn"):
        require(module, "the studio needs its extra", "web")
    from ..web.app import create_app
    from ..web.form import FormLimits
    from ..web.guard import Access, is_loopback
    from ..web.server import make_server
    from ..web.store import Limits, prepare

    if token is not None and len(token) < 8:
        raise PainterlyError("--token is too short: give at least 8 characters")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(18)  # reachable from other machines: never without one
    access = Access(host=host, port=port, token=token)
    limits = Limits(max_total_bytes=max_uploads_mb * 2**20)
    form_limits = FormLimits(max_size=max_size)
    on = _cluster(cluster) if cluster else None  # an absent scheduler: nothing created
    prepare(results, "--results")  # before serving: one line, not a failure per request
    runs = workers or (on.workers if on else 1)
    app = create_app(
        results, runs, queue_limit, limits, form_limits, access=access, runner=on, models=models
    )
    click.echo(f"painterly studio on {access.url()} (results in {results.resolve()})")
    click.echo(f"fast models from {(models or results / 'models').resolve()}")
    if on is not None:
        click.echo(f"runs go to the Dask scheduler {cluster}, {runs} at a time")
    if not is_loopback(host):
        shown = socket.gethostname() if host in ("0.0.0.0", "::") else None
        elsewhere = access.url().replace("127.0.0.1", shown, 1) if shown else access.url()
        click.echo(f"it answers other machines: open {elsewhere} (the address carries the token)")
    click.echo("Ctrl-C stops it; waiting runs are kept for the next start")
    try:
        make_server(app, host, port).run()
    finally:
        if on is not None:
            on.close()
    kept = len(app.state.studio.store.load_queue())
    click.echo(f"painterly studio stopped; {kept} run(s) kept for the next start")
    if on is not None or not app.state.studio.jobs.join(0):
        # A run is still inside torch: leave now (it stays queued) rather than wait for it.
        # With a cluster, Dask's threads can hold the interpreter's exit for many seconds.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _cluster(address: str) -> ClusterRuns:
    """The studio's runner on the scheduler at ``address`` (PainterlyError if it cannot
    be reached or has no workers, within 25 s)."""
    from ..cluster.runners import connect
    from ..cluster.studio import ClusterRuns

    return ClusterRuns(connect(address))
