"""``painterly doctor``: what painterly finds on this machine, and whether it can run."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
from pathlib import Path
from typing import Any

import click

from .._version import __version__
from ..errors import WeightsError

# Extras that bring no capability of their own to a user.
_NOT_SHOWN = {"dev", "docs"}


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cores() -> str:
    total = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return f"{total} cores" + (f", {usable} usable by this process" if usable != total else "")


def extras() -> dict[str, list[tuple[str, bool]]]:
    """Each extra of painterly's metadata with its packages and whether each is there."""
    try:
        requires = importlib.metadata.requires("painterly") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found: dict[str, list[tuple[str, bool]]] = {}
    for requirement in requires:
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        if extra is None or name is None or extra.group(1) in _NOT_SHOWN:
            continue
        try:
            importlib.metadata.version(name.group(0))
            there = True
        except importlib.metadata.PackageNotFoundError:
            there = False
        found.setdefault(extra.group(1), []).append((name.group(0), there))
    return found


def _devices(torch: Any) -> list[str]:
    lines = [f"cpu: {cpu_model()}, {cores()}"]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            lines.append(f"cuda:{index}: {props.name}, {props.total_memory / 2**30:.1f} GiB")
    else:
        lines.append("cuda: none")
    if torch.backends.mps.is_available():
        memory = torch.mps.recommended_max_memory() / 2**30
        lines.append(f"mps: Apple GPU, {memory:.1f} GiB recommended at most")
    return lines


def _build(torch: Any) -> str:
    parts = [f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"]
    if getattr(torch.version, "hip", None):
        parts.append(f"ROCm {torch.version.hip}")
    parts.append("oneDNN" if torch.backends.mkldnn.is_available() else "no oneDNN")
    return ", ".join(parts)


def _precision(torch: Any) -> str:
    from ..engine import precision

    device = precision.pick_device("auto")
    if not precision.bf16_supported(device):
        return f"fp32 on {device.type} (no native bf16 here; no probe needed)"
    rates = precision.probe_rates(device)
    measured = f"fp32 {rates['fp32']:.0f}, bf16 {rates['bf16']:.0f} GFLOP/s"
    return f"{precision.choose(rates)} on {device.type} (probe: {measured})"


def report() -> tuple[list[tuple[str, str]], list[str]]:
    """The lines of the report (label, text) and the reasons painterly cannot run."""
    rows = [("painterly", __version__), ("python", f"{platform.python_version()}")]
    problems: list[str] = []
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        rows.append(("torch", "not installed: run pip install torch"))
        problems.append("PyTorch is not installed: run pip install torch")
        torch = None
    if torch is not None:
        rows.append(("torch", f"{torch.__version__} ({_build(torch)})"))
        rows += [("device", line) for line in _devices(torch)]
        rows.append(("precision", _precision(torch)))
        from ..nn import weights

        try:
            spec, path = weights.resolve(None)
            rows.append(("weights", f"{spec.name}: {path}"))
            rows.append(("sha256", weights.sha256_of(path)))
        except WeightsError as exc:
            rows.append(("weights", str(exc)))
            problems.append(str(exc))
    for extra, packages in extras().items():
        missing = [name for name, there in packages if not there]
        names = ", ".join(name for name, _ in packages)
        text = (
            f"installed ({names})"
            if not missing
            else (f"missing {', '.join(missing)}: run pip install 'painterly[{extra}]'")
        )
        rows.append((f"[{extra}]", text))
    return rows, problems


@click.command(short_help="Say what painterly finds here: devices, precision, weights.")
def doctor() -> int:
    """Print the version, Python, PyTorch and its build, the devices, the precision the
    probe picks with its measured rates, the weights and their checksum, and the extras
    installed; exit 1 with the reason when painterly cannot run here."""
    rows, problems = report()
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        click.echo(f"{label:<{width}}  {text}")
    if problems:
        for problem in problems:
            click.echo(f"painterly cannot run here: {problem}", err=True)
        return 1
    click.echo("painterly can run here: try 'painterly demo'")
    return 0
