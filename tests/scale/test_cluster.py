"""The cluster helper: a bad worker count or an unreachable scheduler is a clear error."""

from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.io.cluster import ClusterSpec, open_client


@pytest.mark.parametrize("workers", [0, -1, 65])
def test_worker_count_out_of_range_is_refused(workers: int) -> None:
    with pytest.raises(InvalidInputError, match="workers"):
        ClusterSpec(workers=workers)


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with (
        pytest.raises(InvalidInputError, match="no Dask scheduler answered"),
        open_client(ClusterSpec(scheduler="tcp://127.0.0.1:9")),
    ):
        pass


def test_local_cluster_runs_a_task() -> None:
    with open_client(ClusterSpec(workers=1)) as client:
        assert client.submit(sum, [1, 2, 3]).result() == 6


def test_local_workers_keep_glibc_trim_threshold_and_leave_no_trace() -> None:
    import os

    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    for _ in range(2):  # a second cluster must not inherit anything from the first
        with open_client(ClusterSpec(workers=1)) as client:
            values = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        assert values and all(v == before for v in values.values())
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") == before
