"""Process tuning is an explicit call; importing painterly and running a transfer leave
the host process as they found it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from painterly.engine import process

FAULTS = """
import resource, sys
import painterly
painterly.tune_process()  # as the command line does: tuned first, then the library loads
import torch
import painterly.transfer.run
torch.empty(48 << 20, dtype=torch.uint8).fill_(1)  # a first buffer, faulted in once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):  # a step's pattern: the same large buffer, allocated and freed
    torch.empty(48 << 20, dtype=torch.uint8).fill_(1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env: str) -> int:
    # Without glibc's own settings, which win over painterly's: Dask's nanny puts
    # MALLOC_TRIM_THRESHOLD_ into the environment of a process that imported it.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    settings = {**inherited, "THP_MEM_ALLOC_ENABLE": "0", **env}
    done = subprocess.run(
        [sys.executable, "-c", FAULTS], env=settings, capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.subprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_buffers_are_reused_not_faulted_in_again() -> None:
    # Five 48 MiB buffers are 61,440 pages of 4 KiB: with glibc's defaults each comes
    # back from the kernel new; kept by painterly, the pages already touched serve them
    # (at most one buffer's 12,288 are new, when the heap must grow once).
    assert _faults() < 15_000
    assert _faults(PAINTERLY_KEEP_FREED="0") > 45_000


def test_keep_freed_memory_leaves_a_users_own_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert process.keep_freed_memory() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("PAINTERLY_KEEP_FREED", "0")
    assert process.keep_freed_memory() is False
    monkeypatch.delenv("PAINTERLY_KEEP_FREED")
    assert process.keep_freed_memory() is sys.platform.startswith("linux")


HOST = """
import json, os, threading, torch
onednn = torch.backends.mkldnn.matmul
torch.set_num_threads(1)
onednn.fp32_precision = "ieee"
torch.backends.cudnn.benchmark = False
before = (dict(os.environ), torch.get_num_threads(), torch.backends.cudnn.benchmark,
          onednn.fp32_precision)
seen, running = set(), threading.Event()

def watch():  # a host thread that would run its float32 products meanwhile
    while not running.is_set():
        seen.add(onednn.fp32_precision)

import painterly
thread = threading.Thread(target=watch)
thread.start()
try:
    painterly.stylize(
        "{content}", ["{style}"], size=48, iterations=4, scales=1, precision="{precision}"
    )
finally:
    running.set()
    thread.join()
after = (dict(os.environ), torch.get_num_threads(), torch.backends.cudnn.benchmark,
         onednn.fp32_precision)
print(json.dumps({{"same": before == after, "seen": sorted(seen),
                   "changed": sorted(set(after[0].items()) ^ set(before[0].items()))}}))
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_transfer_leaves_the_host_process_as_it_was(
    precision: str, content_path: object, style_path: object
) -> None:
    # In a fresh interpreter: the environment, the thread count (the precision probe sets
    # one thread while it runs), cuDNN's autotuner and oneDNN's float32 matrix products
    # (which a Gram product of bf16 features may move to bf16 units) are as they were,
    # and a host thread never sees its float32 products switched to bf16.
    script = HOST.format(content=content_path, style=style_path, precision=precision)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["changed"] == [] and report["same"]
    assert report["seen"] == ["ieee"]


@pytest.mark.subprocess
def test_importing_painterly_loads_no_torch_and_sets_nothing() -> None:
    script = (
        "import os, sys; before = dict(os.environ); import painterly; "
        "print('torch' in sys.modules, dict(os.environ) == before)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"]


@pytest.mark.subprocess
def test_tune_process_asks_for_huge_pages_only_before_torch_loads() -> None:
    script = (
        "import os, painterly; os.environ.pop('THP_MEM_ALLOC_ENABLE', None); "
        "t = painterly.tune_process(); "
        "print(t.huge_pages, os.environ.get('THP_MEM_ALLOC_ENABLE')); "
        "import torch; os.environ.pop('THP_MEM_ALLOC_ENABLE'); "
        "print(painterly.tune_process().huge_pages)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "1", "False"], done.stderr
