"""``painterly serve``: the local web studio."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import PainterlyError


@click.command(short_help="Open the local web studio.")
@click.option("--host", default="127.0.0.1", help="address to listen on  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, help="port  [default: 8000]")
@click.option(
    "--results",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("painterly-results"),
    help="folder for uploads and runs  [default: ./painterly-results]",
)
@click.option("--workers", type=click.IntRange(1, 16), default=1, help="runs at a time  [1]")
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
def serve(
    host: str, port: int, results: Path, workers: int, queue_limit: int, max_size: int
) -> None:
    """Open the studio in a browser: stylise, watch the image form, keep every run.

    \b
    Example:
      painterly serve            # then open http://127.0.0.1:8000
    """
    try:
        import uvicorn

        from ..web.app import create_app
        from ..web.form import FormLimits
    except ImportError:
        raise PainterlyError(
            "the studio needs its extra: run pip install 'painterly[web]'"
        ) from None
    if results.exists() and not results.is_dir():
        raise PainterlyError(f"--results '{results}' is a file: give a folder")
    app = create_app(results, workers, queue_limit, form_limits=FormLimits(max_size=max_size))
    shown = f"[{host}]" if ":" in host else host
    where = f"http://{shown}:{port}"
    click.echo(f"painterly studio on {where} (results in {results.resolve()}); Ctrl-C stops it")
    uvicorn.run(app, host=host, port=port, log_level="warning")
