"""Workers that painterly starts are tuned for its steps before they run a task."""

from __future__ import annotations

import pytest

from painterly.cluster.runners import local_cluster
from painterly.engine import process

pytestmark = pytest.mark.cluster


def _tuned() -> bool:
    return process.owns_process()


def test_a_local_clusters_workers_are_tuned() -> None:
    runner = local_cluster(1)
    try:
        answers = runner.client.run(_tuned)
    finally:
        runner.client.close()
        runner.cluster.close()
    assert list(answers.values()) == [True]
