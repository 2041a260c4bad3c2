"""Image input and output: any Pillow image in, RGB float tensors inside, files out.

Loading applies the EXIF orientation, converts embedded ICC profiles to sRGB,
flattens alpha onto white and handles grey, palette, CMYK and 16-bit images; a file
much larger than needed is decoded at a reduced size. Saving goes through
:mod:`painterly.files.atomic` (a flushed temporary part renamed into place under a lock), so
an interrupted run never leaves a half-written image. PNG and TIFF can also be written
(and read back) with 16 bits per channel.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import ConfigError, ImageError, OutputError
from .atomic import atomic_write, check_writable, reason
from .paths import check_readable

__all__ = ["atomic_write", "check_readable"]  # re-exported from outputs and paths

MAX_INPUT_PIXELS = 100_000_000  # 100 MP: larger files are refused before decoding
# Files above 16 MP are decoded at a reduced size when a much smaller one is asked for
# (smaller files are decoded in full, so their pixels are exactly as before).
REDUCE_ABOVE_PIXELS = 16_000_000
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
DEEP_FORMATS = ("PNG", "TIFF")  # formats written with 16 bits per channel
_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F", "YCbCr", "PA")  # Image.reduce's modes
_SRGB = ImageCms.createProfile("sRGB")
_SRGB_ICC = ImageCms.ImageCmsProfile(_SRGB).tobytes()


def readable_extensions() -> frozenset[str]:
    """The file extensions (lower case, with the dot) of the formats this Pillow can open
    and decode: what a folder of photos or of frames is read for.

    >>> {".png", ".jpg", ".ppm", ".tga"} <= readable_extensions()
    True
    """
    found = Image.registered_extensions()  # loads the plugins that fill Image.OPEN
    return frozenset(e.lower() for e, fmt in found.items() if fmt in Image.OPEN and _decodes(fmt))


def _decodes(fmt: str) -> bool:
    """Whether Pillow decodes a format's pixels by itself: not the formats it only
    identifies (its docs: BUFR, GRIB, HDF5, MPEG, WMF), which need a handler."""
    factory = Image.OPEN[fmt][0]
    stub = isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile)
    return not stub and fmt != "MPEG"


def open_image(
    source: str | os.PathLike[str] | BinaryIO, max_side: int | None = None
) -> Image.Image:
    """Open and fully decode an image file (a path, or a binary file object) as 8-bit
    RGB, oriented and in sRGB.

    With ``max_side``, a file of more than 16 MP much larger than that is decoded
    smaller (JPEG's DCT scaling, else Pillow's ``reduce``), never under twice
    ``max_side``, to save memory.
    """
    if isinstance(source, (str, os.PathLike)):
        source = Path(source)
        check_readable(source, "image")
        name = f"'{source}'"
    else:
        name = "the image data given"
    try:
        with warnings.catch_warnings():
            # painterly has its own pixel limit, checked just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                _check_pixels(name, *img.size)
                return to_rgb(_decode(img, max_side))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image Pillow can read: give a PNG, JPEG, …") from None
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found[1]) / 1e6:.0f} MP)" if found else ""
        raise ImageError(
            f"image {name} is too large{size}, over the {MAX_INPUT_PIXELS // 1_000_000} MP "
            "limit: downscale it first"
        ) from None
    except PermissionError:
        raise ImageError(f"image {name} cannot be read: permission denied") from None
    except MemoryError:
        raise ImageError(f"image {name} does not fit in memory: downscale it first") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"image {name} is truncated or corrupt ({exc}): re-export it") from None


def _check_pixels(name: str, width: int, height: int) -> None:
    if width * height > MAX_INPUT_PIXELS:
        raise ImageError(
            f"image {name} is {width}×{height} ({width * height / 1e6:.0f} MP), over the "
            f"{MAX_INPUT_PIXELS // 1_000_000} MP limit: downscale it first"
        )


def _decode(img: Image.Image, max_side: int | None) -> Image.Image:
    """Decode ``img``; when ``max_side`` is much smaller, at no less than twice it (and
    with the shorter side kept at 64 px or more, so that the shape stays true)."""
    factor = _reduction(img.size, max_side)
    if factor < 2 or img.mode not in _REDUCIBLE:
        img.load()
        return img
    if img.format == "JPEG" and img.mode in ("RGB", "L", "CMYK"):
        # The DCT decoder scales by 1/2, 1/4 or 1/8 for a size at least the one asked.
        img.draft(img.mode, (img.size[0] // factor, img.size[1] // factor))
    img.load()
    factor = _reduction(img.size, max_side)
    if factor < 2:
        return img
    reduced = img.reduce(factor)
    reduced.info = img.info  # keep the ICC profile and EXIF orientation
    return reduced


def _reduction(size: tuple[int, int], max_side: int | None) -> int:
    if not max_side or size[0] * size[1] <= REDUCE_ABOVE_PIXELS:
        return 1
    return min(max(size) // (2 * max_side), min(size) // 64)


def to_rgb(img: Image.Image) -> Image.Image:
    """Orient by EXIF, convert to sRGB, flatten alpha onto white, return mode RGB."""
    img = ImageOps.exif_transpose(img)
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(img, src, _SRGB, outputMode=out_mode)
            img = converted if converted is not None else img
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: keep the pixels as they are
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 257).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


ImageSource = str | os.PathLike[str] | Image.Image | torch.Tensor | np.ndarray | bytes | BinaryIO
ACCEPTED = (
    "a path, a PIL image, bytes or a binary file object of an image file, a 3×H×W or "
    "1×3×H×W tensor (uint8 in 0–255, or float in 0–1) or an H×W×3 numpy array (uint8, or "
    "float in 0–1)"
)


def load_image(
    source: ImageSource, max_side: int | None = None, *, what: str = "image"
) -> torch.Tensor:
    """An image as ``1×3×H×W`` float32 RGB in [0, 1], from any of :data:`ACCEPTED`.

    Integer tensors and arrays are read as 8-bit (0–255), float ones as 0–1 (a float
    one with values above 2 is refused as 0–255 by mistake; one slightly outside 0–1 is
    clamped). ``max_side``: the largest side the caller will use; a file much larger is
    decoded at a reduced size (at least twice ``max_side``) to save memory. Anything
    else raises :class:`ConfigError` naming its type and ``what`` the image is.

    >>> load_image(np.full((2, 4, 3), 255, dtype=np.uint8)).shape
    torch.Size([1, 3, 2, 4])
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, what)
    if isinstance(source, torch.Tensor):
        return _from_tensor(source, what)
    if isinstance(source, Image.Image):
        return pil_to_tensor(to_rgb(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return pil_to_tensor(open_image(io.BytesIO(source), max_side))
    if isinstance(source, (str, os.PathLike)):
        deep = read_deep(source)
        return deep if deep is not None else pil_to_tensor(open_image(source, max_side))
    if callable(getattr(source, "read", None)):
        return pil_to_tensor(open_image(source, max_side))
    raise ConfigError(f"{what} is a {type(source).__name__}: give {ACCEPTED}")


def _from_array(array: np.ndarray, what: str) -> torch.Tensor:
    """An ``H×W×3`` (or ``H×W`` grey) numpy array as a ``1×3×H×W`` tensor."""
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ConfigError(
            f"{what} is a numpy array of shape {array.shape}: give H×W×3 (RGB) or H×W (grey)"
        )
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ConfigError(f"{what} is a numpy array of {array.dtype}: give uint8, or float in 0–1")
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
    return _from_tensor(tensor, what, "numpy array")


def _from_tensor(source: torch.Tensor, what: str, kind: str = "tensor") -> torch.Tensor:
    """A ``3×H×W`` or ``1×3×H×W`` tensor, 8-bit if of integers, else 0–1 (see
    :func:`load_image`), as float32 in [0, 1]."""
    t = source.detach().cpu()
    t = t.unsqueeze(0) if t.dim() == 3 else t
    if t.dim() != 4 or t.shape[:2] != (1, 3):
        shape = "×".join(map(str, source.shape))
        raise ConfigError(f"{what} is a {kind} of shape {shape}: give 3×H×W or 1×3×H×W (RGB)")
    if t.dtype == torch.bool or t.is_complex():
        raise ConfigError(f"{what} is a {kind} of {t.dtype}: give uint8, or float in 0–1")
    if not t.is_floating_point():
        low, high = int(t.min()), int(t.max())
        if low < 0 or high > 255:
            raise ConfigError(
                f"{what} is an integer {kind} with values {low}–{high}: give 8-bit values "
                "(0–255), or floats in 0–1"
            )
        return t.float() / 255.0
    t = t.float()
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{what} holds NaN or infinite values: give floats in 0–1")
    top = float(t.max())
    if top > 2:
        raise ConfigError(
            f"{what} is a float {kind} with values up to {top:g}, not in 0–1: divide it by "
            "255, or give it as uint8"
        )
    return t.clamp(0, 1).contiguous()


def read_deep(path: str | os.PathLike[str]) -> torch.Tensor | None:
    """A 16-bit-per-channel RGB PNG or TIFF in sRGB at full precision, else ``None``
    (Pillow reads such files as 8-bit)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_pixels(f"'{path}'", *img.size)
            rawmode = img.tile[0][3] if img.tile else ""
            rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
            icc = img.info.get("icc_profile")
            oriented = img.getexif().get(0x0112, 1) != 1
            fmt = img.format
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None  # open_image says what is wrong
    if not str(rawmode).startswith("RGB;16") or oriented or icc not in (None, _SRGB_ICC):
        return None
    if fmt == "TIFF":
        import tifffile

        data = tifffile.imread(path)
    else:
        import png

        width, height, rows, _ = png.Reader(filename=os.fspath(path)).asRGB()
        data = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
        data = data.reshape(height, width, 3)
    pixels = torch.from_numpy(data.astype(np.float32) / 65535.0)
    return pixels.permute(2, 0, 1).unsqueeze(0).contiguous()


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    data = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())
    return data.permute(2, 0, 1).unsqueeze(0).float() / 255.0


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """``1×3×H×W`` (or ``3×H×W``) in [0, 1] → 8-bit RGB PIL image."""
    t = image.detach().float().cpu().reshape(3, image.shape[-2], image.shape[-1])
    data = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    return Image.fromarray(data.numpy())


def fit_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the longer side equal to ``size``, aspect ratio kept."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def side_for(height: int, width: int, shorter: int) -> int:
    """The smallest longer side at which an image of this shape has its shorter side at
    least ``shorter`` pixels (with :func:`fit_size`'s rounding).

    >>> side_for(300, 400, 16)
    21
    """
    side = max(1, math.ceil((shorter - 0.5) * max(height, width) / min(height, width)))
    while side > 1 and min(fit_size(height, width, side - 1)) >= shorter:
        side -= 1
    while min(fit_size(height, width, side)) < shorter:
        side += 1
    return side


def resize(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Resize a ``1×3×H×W`` tensor; antialiased when shrinking."""
    if tuple(image.shape[-2:]) == hw:
        return image
    return torch.nn.functional.interpolate(
        image, size=hw, mode="bicubic", align_corners=False, antialias=True
    ).clamp(0, 1)


def resize_longest(image: torch.Tensor, side: int) -> torch.Tensor:
    """Resize a ``1×3×H×W`` tensor so that its longer side is ``side``, aspect kept."""
    return resize(image, fit_size(image.shape[-2], image.shape[-1], side))


def check_output_path(path: str | os.PathLike[str], bit_depth: int = 8) -> Path:
    """Validate an output path before any work: known extension, a format that holds
    the bit depth, and a file that can be created there (tried, then removed)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"output '{path}' is a folder: name a file, e.g. '{path / 'out.png'}'")
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise OutputError(
            f"output '{path}' has extension '{path.suffix}': use one of "
            f"{', '.join(sorted(OUTPUT_FORMATS))}"
        )
    if bit_depth not in (8, 16):
        raise OutputError(f"bit depth {bit_depth} is not 8 or 16")
    if bit_depth == 16 and OUTPUT_FORMATS[path.suffix.lower()] not in DEEP_FORMATS:
        raise OutputError(
            f"output '{path}' cannot hold 16 bits per channel: use .png or .tif, or 8 bits"
        )
    check_writable(path)
    return path


def save_image(
    image: torch.Tensor, path: str | os.PathLike[str], quality: int = 95, bit_depth: int = 8
) -> Path:
    """Write an image tensor atomically; the format follows the extension, sRGB embedded.

    ``bit_depth=16`` writes 16 bits per channel (PNG and TIFF only).
    """
    path = check_output_path(path, bit_depth)
    try:
        atomic_write(path, image_writer(image, path, quality, bit_depth))
    except OSError as exc:
        raise OutputError(f"could not write '{path}': {reason(exc)}") from None
    return path


def image_writer(
    image: torch.Tensor, path: Path, quality: int = 95, bit_depth: int = 8
) -> Callable[[Path], None]:
    """A function that writes ``image`` to the file it is given, in the format of
    ``path``'s extension (checked with :func:`check_output_path`), sRGB embedded."""
    fmt = OUTPUT_FORMATS[path.suffix.lower()]
    if bit_depth == 16:
        deep = to_uint16(image)
        return lambda tmp: _write_deep(tmp, deep, fmt)
    pil = tensor_to_pil(image)

    def write(tmp: Path) -> None:
        options: dict[str, object] = {"icc_profile": _SRGB_ICC}
        if fmt in ("JPEG", "WEBP"):
            options["quality"] = quality
        pil.save(tmp, format=fmt, **options)

    return write


def to_uint16(image: torch.Tensor) -> np.ndarray:
    """``1×3×H×W`` in [0, 1] → ``H×W×3`` uint16."""
    t = image.detach().float().cpu().reshape(3, image.shape[-2], image.shape[-1])
    scaled = (t.clamp(0, 1) * 65535).round().to(torch.int32).permute(1, 2, 0)
    return np.ascontiguousarray(scaled.numpy().astype(np.uint16))


def _write_deep(path: Path, pixels: np.ndarray, fmt: str) -> None:
    if fmt == "TIFF":
        import tifffile

        tifffile.imwrite(path, pixels, photometric="rgb", compression="zlib", iccprofile=_SRGB_ICC)
    else:
        path.write_bytes(png16(pixels, _SRGB_ICC))


def png16(pixels: np.ndarray, icc: bytes) -> bytes:
    """A 16-bit RGB PNG file (``H×W×3`` uint16) with an embedded ICC profile."""
    height, width, _ = pixels.shape
    rows = np.zeros((height, 1 + width * 6), dtype=np.uint8)  # filter byte 0 ("none")
    rows[:, 1:] = pixels.astype(">u2").view(np.uint8).reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16-bit RGB
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"iCCP", b"sRGB\0\0" + zlib.compress(icc)),
            chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            chunk(b"IEND", b""),
        ]
    )
