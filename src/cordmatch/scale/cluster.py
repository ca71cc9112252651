"""Opening a dask.distributed client: a running scheduler by address, else a LocalCluster.

The same task code runs on both; only how the client is opened differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cordmatch.errors import InvalidInputError

if TYPE_CHECKING:
    from distributed import Client

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
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
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


def dashboard_link(client: Client) -> str | None:
    """The dashboard address of the client's cluster, when it has one."""
    link = getattr(client, "dashboard_link", None)
    return str(link) if link else None
