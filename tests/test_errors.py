"""The one guard of optional dependencies: each names what needs the module, the extra
and the command that installs it."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

from painterly.cluster import runners
from painterly.errors import PainterlyError, require
from painterly.explain import figures
from painterly.video import clips, flow


def test_require_imports_the_module_or_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert require("json", "records need json", "dev").dumps([1]) == "[1]"
    monkeypatch.setitem(sys.modules, "json", None)  # as if it were not installed
    with pytest.raises(PainterlyError) as info:
        require("json", "records need json", "dev")
    assert str(info.value) == "records need json: run pip install 'painterly[dev]'"


@pytest.mark.parametrize(
    ("guard", "module", "message"),
    [
        (clips.require_av, "av", "video needs PyAV and OpenCV: run pip install 'painterly[video]'"),
        (
            flow.require_cv2,
            "cv2",
            "video needs OpenCV and PyAV: run pip install 'painterly[video]'",
        ),
        (
            figures.require,
            "matplotlib",
            "figures need matplotlib: run pip install 'painterly[explain]'",
        ),
        (runners._dask, "distributed", "need Dask: run pip install 'painterly[cluster]'"),
    ],
)
def test_each_workflow_names_its_extra(
    monkeypatch: pytest.MonkeyPatch, guard: Callable[[], Any], module: str, message: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(PainterlyError, match=re.escape(message)):
        guard()
