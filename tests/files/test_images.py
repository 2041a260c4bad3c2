"""Every kind of image loads as RGB in sRGB, right way up; output is atomic."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image, ImageCms, JpegImagePlugin

from painterly.errors import ImageError, OutputError
from painterly.files import images


def save(img: Image.Image, path: Path, **kw: Any) -> Path:
    img.save(path, **kw)
    return path


# What (200, 100, 50) becomes in each mode: grey keeps its luma (ITU-R 601: 124), the
# palette its nearest web colour, 16 bits the level 124 of 65535 (black in 8 bits).
SEEN_AS = {"L": (124,) * 3, "LA": (124,) * 3, "P": (204, 102, 51), "I;16": (0, 0, 0)}


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "I;16", "RGB"])
def test_modes_load_as_rgb(tmp_path: Path, mode: str) -> None:
    img = Image.new("RGB", (6, 4), (200, 100, 50)).convert(mode)
    ext = "jpg" if mode == "CMYK" else ("tif" if mode == "I;16" else "png")
    t = images.load_image(save(img, tmp_path / f"x.{ext}"))
    want = torch.tensor(SEEN_AS.get(mode, (200, 100, 50))).view(1, 3, 1, 1) / 255
    assert t.shape == (1, 3, 4, 6)
    torch.testing.assert_close(t, want.expand_as(t), atol=2 / 255, rtol=0)


def test_sixteen_bit_grey_keeps_its_level(tmp_path: Path) -> None:
    img = Image.new("I;16", (4, 4), 32768)
    t = images.load_image(save(img, tmp_path / "g.png"))
    assert abs(t.mean().item() - 0.5) < 0.01


def test_alpha_is_flattened_onto_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert images.load_image(save(img, tmp_path / "a.png")).min().item() == 1.0


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (8, 4), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    t = images.load_image(save(img, tmp_path / "r.jpg", exif=exif))
    assert t.shape[-2:] == (8, 4)


def test_icc_profile_is_converted_to_srgb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = ImageCms.profileToProfile

    def spy(img: Image.Image, *args: object, **kwargs: object) -> Image.Image:
        calls.append(img.mode)
        return real(img, *args, **kwargs)  # type: ignore[arg-type,return-value]

    monkeypatch.setattr(ImageCms, "profileToProfile", spy)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB", 5000))
    img = Image.new("RGB", (4, 4), (200, 60, 60))
    t = images.load_image(save(img, tmp_path / "p.png", icc_profile=profile.tobytes()))
    assert calls == ["RGB"] and t.shape == (1, 3, 4, 4)


def test_broken_icc_profile_keeps_pixels(tmp_path: Path) -> None:
    img = Image.new("RGB", (4, 4), (200, 60, 60))
    t = images.load_image(save(img, tmp_path / "b.png", icc_profile=b"garbage"))
    torch.testing.assert_close(t, images.load_image(img))


def test_bad_files_raise_image_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        images.load_image(tmp_path / "none.png")
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(ImageError, match="not an image"):
        images.load_image(tmp_path / "t.txt")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:300])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        images.load_image(tmp_path / "cut.jpg")
    monkeypatch.setattr(images, "MAX_INPUT_PIXELS", 100)
    with pytest.raises(ImageError, match="downscale it first"):
        images.load_image(save(Image.new("RGB", (20, 20)), tmp_path / "big.png"))


def test_round_trip_and_formats(tmp_path: Path) -> None:
    t = torch.rand(1, 3, 10, 12)
    for ext in (".png", ".jpg", ".webp", ".tif"):
        out = images.save_image(t, tmp_path / f"o{ext}")
        back = images.load_image(out)
        assert back.shape == t.shape
        assert "icc_profile" in Image.open(out).info
    exact = images.load_image(tmp_path / "o.png")
    assert (exact - t).abs().max() < 1 / 255


def test_written_files_get_the_usual_mode(tmp_path: Path) -> None:
    out = images.save_image(torch.rand(1, 3, 4, 4), tmp_path / "m.png")
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def boom(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        images.atomic_write(tmp_path / "x.png", boom)
    assert list(tmp_path.iterdir()) == []


def test_output_path_is_checked_first(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"extension '\.gif'"):
        images.check_output_path(tmp_path / "x.gif")
    with pytest.raises(OutputError, match="does not exist"):
        images.check_output_path(tmp_path / "no" / "x.png")
    with pytest.raises(OutputError, match="is a folder: name a file"):
        images.check_output_path(tmp_path)
    with pytest.raises(OutputError, match="cannot be created"):
        images.check_output_path("/proc/self/o.png")


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_output_round_trips(tmp_path: Path, suffix: str) -> None:
    x = torch.rand(1, 3, 20, 30)
    out = images.save_image(x, tmp_path / f"deep{suffix}", bit_depth=16)
    back = images.load_image(out)
    assert (back - x).abs().max() <= 0.5 / 65535 + 1e-7
    with Image.open(out) as img:  # any reader still sees an RGB image in sRGB
        assert img.size == (30, 20) and img.mode == "RGB" and img.info.get("icc_profile")


def test_sixteen_bit_needs_png_or_tiff(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="16 bits"):
        images.save_image(torch.rand(1, 3, 4, 4), tmp_path / "x.jpg", bit_depth=16)
    assert not list(tmp_path.iterdir())


def test_pillows_bomb_warning_is_silent_and_its_error_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(Image.new("RGB", (30, 20)), tmp_path / "wide.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 600 px: Pillow warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert images.load_image(path).shape == (1, 3, 20, 30)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 250)  # over twice: Pillow refuses
    with pytest.raises(ImageError, match=r"is too large .* downscale it first"):
        images.load_image(path)


def test_unreadable_and_folder_images_name_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ImageError, match="is a folder, not a file"):
        images.load_image(tmp_path)
    path = save(Image.new("RGB", (4, 4)), tmp_path / "locked.png")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(ImageError, match="cannot be read: permission denied"):
        images.load_image(path)


@pytest.mark.parametrize(("ext", "used"), [("jpg", "draft"), ("png", "reduce")])
def test_a_large_file_is_decoded_smaller_for_a_small_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str, used: str
) -> None:
    path = save(Image.new("RGB", (1600, 1200), (30, 160, 90)), tmp_path / f"big.{ext}")
    calls: list[str] = []
    for owner, name in ((JpegImagePlugin.JpegImageFile, "draft"), (Image.Image, "reduce")):
        real = getattr(owner, name)

        def spy(self: Image.Image, *args: object, _real: object = real, _n: str = name) -> object:
            calls.append(_n)
            return _real(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(owner, name, spy)
    assert images.load_image(path, 64).shape[-1] == 1600  # 1.9 MP: decoded in full
    assert not calls
    monkeypatch.setattr(images, "REDUCE_ABOVE_PIXELS", 1_000_000)
    small = images.load_image(path, 64)
    assert used in calls and 128 <= small.shape[-1] < 400 and small.shape[-2:] != (1200, 1600)
    assert abs(small.shape[-1] / small.shape[-2] - 4 / 3) < 0.02
    assert (small - torch.tensor([30, 160, 90]).view(1, 3, 1, 1) / 255).abs().max() < 0.02


def test_readable_extensions_are_the_formats_pillow_decodes() -> None:
    readable = images.readable_extensions()
    assert {".png", ".jpg", ".jpeg", ".webp", ".tif", ".bmp", ".ppm", ".pgm", ".tga"} <= readable
    assert not {".pdf", ".h5", ".mpg", ".txt", ".json"} & readable  # written or identified only
