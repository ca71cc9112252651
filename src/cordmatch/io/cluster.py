"""Opening a dask.distributed client: a running scheduler by address, else a LocalCluster.

The same task code runs on both; only how the client is opened differs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cordmatch.errors import InvalidInputError

if TYPE_CHECKING:
    from distributed import Client

_TRIM = "MALLOC_TRIM_THRESHOLD_"

#: Most local workers one machine is given by default (one process per worker, one thread each).
MAX_LOCAL_WORKERS = 64


@dataclass(frozen=True)
class ClusterSpec:
    """Where to run: ``scheduler`` (``tcp://host:8786``) or a LocalCluster of ``workers`` processes."""

    scheduler: str | None = None
    workers: int = 2
    memory_limit: str = "auto"

    def __post_init__(self) -> None:
        if self.scheduler is None and not 1 <= self.workers <= MAX_LOCAL_WORKERS:
            raise InvalidInputError(
                f"the number of workers must be between 1 and {MAX_LOCAL_WORKERS}, not {self.workers}",
                where="workers",
            )


@contextmanager
def open_client(spec: ClusterSpec) -> Iterator[Client]:
    """A connected client for ``spec``; a LocalCluster it started is closed on exit.

    Raises InvalidInputError when the scheduler at the given address cannot be reached.
    """
    from distributed import Client, LocalCluster

    if spec.scheduler is not None:
        try:
            client = Client(spec.scheduler, timeout="5s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise InvalidInputError(
                f"no Dask scheduler answered at {spec.scheduler!r}: {exc}", where="scheduler"
            ) from exc
        try:
            yield client
        finally:
            client.close()  # type: ignore[no-untyped-call]
        return
    from cordmatch.config import current

    with _glibc_trim_threshold():
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            env=current().to_env(),  # the workers run with this process's settings (cordmatch.imgt.current_tables)
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=spec.memory_limit,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
        )
    try:
        with Client(cluster) as client:  # type: ignore[no-untyped-call]
            yield client
    finally:
        cluster.close()


@contextmanager
def _glibc_trim_threshold() -> Iterator[None]:
    """Local workers keep glibc's own malloc trim threshold.

    distributed's default ``MALLOC_TRIM_THRESHOLD_=65536`` returns every freed block to the system, so the
    temporary numpy arrays of each task are faulted back in every time (about 30-40% more CPU per task, measured
    on the coverage engine). distributed also writes its pre-spawn environment into this process's
    ``os.environ``, which later clusters would inherit; that is undone on exit.
    """
    import dask
    import distributed  # noqa: F401  (loads distributed's configuration defaults)

    # glibc's and distributed's own environment variable (not a cordmatch setting, so not in cordmatch.config)
    key = "distributed.nanny.pre-spawn-environ"
    environ = {k: v for k, v in dict(dask.config.get(key, {})).items() if k != _TRIM}
    before = os.environ.get(_TRIM)
    try:
        with dask.config.set({key: environ}):
            yield
    finally:
        if before is None:
            os.environ.pop(_TRIM, None)
        else:
            os.environ[_TRIM] = before


def dashboard_link(client: Client) -> str | None:
    """The dashboard address of the client's cluster, when it has one."""
    link = getattr(client, "dashboard_link", None)
    return str(link) if link else None
