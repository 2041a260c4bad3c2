"""Contact sheets: images in a grid, each with a caption under it, readable at a glance.

Drawn with Pillow alone (its built-in scalable font), so the core install can make them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from . import images

Cell = tuple[str | os.PathLike[str] | Image.Image, str]  # image (or path) and caption


def font(size: int = 14) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` pixels."""
    return ImageFont.load_default(size=size)


def contact_sheet(
    cells: Sequence[Cell],
    columns: int = 4,
    thumb: int = 320,
    title: str | None = None,
    font_size: int = 14,
) -> Image.Image:
    """Thumbnails (longest side ``thumb``) in a grid, captions of one or more lines
    under each and an optional title on top."""
    if not cells:
        raise ValueError("a contact sheet needs at least one image")
    face = font(font_size)
    line = font_size + 4
    thumbs = []
    for source, caption in cells:
        img = source.convert("RGB") if isinstance(source, Image.Image) else _open(source)
        img.thumbnail((thumb, thumb))
        thumbs.append((img, caption))
    lines = max(caption.count("\n") + 1 for _, caption in thumbs)
    cell_w = max(t.width for t, _ in thumbs) + 8
    cell_h = max(t.height for t, _ in thumbs) + lines * line + 10
    columns = min(columns, len(thumbs))
    rows = -(-len(thumbs) // columns)
    top = line + 12 if title else 0
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h + top), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((6, 6), title, fill="black", font=font(font_size + 2))
    for i, (img, caption) in enumerate(thumbs):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + top + 4
        sheet.paste(img, (x, y))
        draw.multiline_text((x, y + img.height + 4), caption, fill="black", font=face, spacing=4)
    return sheet


def _open(path: str | os.PathLike[str]) -> Image.Image:
    return images.tensor_to_pil(images.load_image(path))


def save_sheet(sheet: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write a sheet atomically (PNG or JPEG by extension)."""
    out = images.check_output_path(path)
    fmt = images.OUTPUT_FORMATS[out.suffix.lower()]
    images.atomic_write(out, lambda tmp: sheet.save(tmp, format=fmt, quality=90))
    return out
