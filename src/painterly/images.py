"""Image input and output: any Pillow image in, RGB float tensors inside, files out.

Loading applies the EXIF orientation, converts embedded ICC profiles to sRGB,
flattens alpha onto white and handles grey, palette, CMYK and 16-bit images. Saving
writes to a temporary file and renames it, so an interrupted run never leaves a
half-written image. PNG and TIFF can also be written (and read back) with 16 bits
per channel.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .errors import ImageError, OutputError

MAX_INPUT_PIXELS = 100_000_000  # 100 MP: larger files are refused before decoding
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
DEEP_FORMATS = ("PNG", "TIFF")  # formats written with 16 bits per channel
_SRGB = ImageCms.createProfile("sRGB")
_SRGB_ICC = ImageCms.ImageCmsProfile(_SRGB).tobytes()


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and fully decode an image file as 8-bit RGB, oriented and in sRGB."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image '{path}' does not exist: check the path")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_INPUT_PIXELS:
                raise ImageError(
                    f"image '{path}' is {w}×{h} ({w * h / 1e6:.0f} MP), over the "
                    f"{MAX_INPUT_PIXELS // 1_000_000} MP limit: downscale it first"
                )
            img.load()
            return to_rgb(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"'{path}' is not an image Pillow can read: give a PNG, JPEG, …") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"image '{path}' is truncated or corrupt ({exc}): re-export it") from None


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


def load_image(source: str | os.PathLike[str] | Image.Image | torch.Tensor) -> torch.Tensor:
    """A path, PIL image or tensor → ``1×3×H×W`` float32 RGB in [0, 1]."""
    if isinstance(source, torch.Tensor):
        t = source.detach().float()
        t = t.unsqueeze(0) if t.dim() == 3 else t
        if t.dim() != 4 or t.shape[:2] != (1, 3):
            raise ImageError(f"image tensor has shape {tuple(source.shape)}: expected 3×H×W")
        return t.clamp(0, 1)
    if not isinstance(source, Image.Image):
        deep = read_deep(source)
        if deep is not None:
            return deep
    img = to_rgb(source) if isinstance(source, Image.Image) else open_image(source)
    return pil_to_tensor(img)


def read_deep(path: str | os.PathLike[str]) -> torch.Tensor | None:
    """A 16-bit-per-channel RGB PNG or TIFF in sRGB at full precision, else ``None``
    (Pillow reads such files as 8-bit)."""
    try:
        with Image.open(path) as img:
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
    """Validate an output path before any work: known extension, existing folder, and a
    format that holds the bit depth."""
    path = Path(path)
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
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"output folder '{folder}' does not exist: create it first")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``, never leaving a partial file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_image(
    image: torch.Tensor, path: str | os.PathLike[str], quality: int = 95, bit_depth: int = 8
) -> Path:
    """Write an image tensor atomically; the format follows the extension, sRGB embedded.

    ``bit_depth=16`` writes 16 bits per channel (PNG and TIFF only).
    """
    path = check_output_path(path, bit_depth)
    fmt = OUTPUT_FORMATS[path.suffix.lower()]
    if bit_depth == 16:
        deep = to_uint16(image)
        atomic_write(path, lambda tmp: _write_deep(tmp, deep, fmt))
        return path
    pil = tensor_to_pil(image)

    def write(tmp: Path) -> None:
        options: dict[str, object] = {"icc_profile": _SRGB_ICC}
        if fmt in ("JPEG", "WEBP"):
            options["quality"] = quality
        pil.save(tmp, format=fmt, **options)

    atomic_write(path, write)
    return path


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
