"""*See inside*: the strongest feature maps and the Gram matrix of an image at a layer,
drawn one at a time on the studio's own small executor (429 when it is busy)."""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from threading import Lock

from starlette.requests import Request
from starlette.responses import Response

from ..errors import PainterlyError, require
from ..explain import features
from ..nn.layers import CONV_NAMES
from .api import error
from .shapes import inside_size
from .state import studio

SIDE = 256  # longest side the image is looked at
CACHE = 32  # drawings kept (image ids are content hashes: a drawing never goes stale)

_cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
_cache_lock = Lock()


def missing_matplotlib() -> str | None:
    """Why See inside cannot draw here, with the command that fixes it, or ``None``."""
    try:
        require("matplotlib", "See inside draws with matplotlib, not installed here", "web,explain")
    except PainterlyError as exc:
        return str(exc)
    return None


def has_matplotlib() -> bool:
    return missing_matplotlib() is None


async def inside(request: Request) -> Response:
    st = studio(request)
    kind = request.path_params["kind"]
    image_id, layer = request.query_params.get("image", ""), request.query_params.get("layer", "")
    if kind not in ("features", "gram") or layer not in CONV_NAMES:
        return error(404, "ask for features or gram at a convolution layer")
    try:
        path = st.store.image_path(image_id)
    except PainterlyError as exc:
        return error(404, str(exc))
    missing = missing_matplotlib()
    if missing is not None:
        return error(424, missing)
    key = (kind, image_id, layer)
    with _cache_lock:
        png = _cache.get(key)
    if png is not None:
        return Response(png, media_type="image/png")
    if inside_size(path, layer, SIDE) is None:
        return error(
            422, f"this image is too thin to look at {layer}: pick an earlier layer", field="layer"
        )
    if st.inside_pending > st.inside_waiting:
        return error(429, "the studio is drawing other pictures inside: try again in a moment")
    st.inside_pending += 1
    try:
        loop = asyncio.get_running_loop()
        png = await loop.run_in_executor(st.inside_pool, draw, kind, str(path), layer)
    except PainterlyError as exc:
        return error(422, str(exc), field="image")
    finally:
        st.inside_pending -= 1
    with _cache_lock:
        _cache[key] = png
        while len(_cache) > CACHE:
            _cache.popitem(last=False)
    return Response(png, media_type="image/png")


def draw(kind: str, path: str, layer: str) -> bytes:
    """The PNG of the feature maps (``features``) or Gram matrix (``gram``) at ``layer``."""
    from ..explain import figures

    maps = features.feature_maps(path, [layer], size=SIDE)[layer]
    if kind == "features":
        chosen = {layer: features.top_filters(maps, 4)}
        fig = figures.feature_grid({layer: maps}, chosen, f"{layer}: the 4 strongest filters")
    else:
        corr = features.correlation(maps[:64])
        pairs = features.strongest_pairs(corr, 8)
        fig = figures.gram_figure([(layer, corr)], pairs, f"Filter correlations at {layer}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
