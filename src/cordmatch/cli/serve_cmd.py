"""`cordmatch serve`: the REST API and the pages on one uvicorn server (SQLite by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cordmatch.cli.common import DbOpt, application, console

if TYPE_CHECKING:
    from cordmatch.config import Settings


def serve_command(
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="seed demo banks, users and units (idempotent)")] = False,
    workers_threads: Annotated[
        int, typer.Option("--threads", help="worker threads for requests (database calls)")
    ] = 40,
    workers: Annotated[int, typer.Option("--workers", help="server processes (PostgreSQL: use 2 or more)")] = 1,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies",
            help="mark cookies Secure and send HSTS (use when served over HTTPS, e.g. behind a TLS proxy)",
        ),
    ] = False,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /docs) and the web pages (/) on HOST:PORT."""
    import anyio
    import anyio.to_thread
    import uvicorn

    from cordmatch.errors import InvalidInputError
    from cordmatch.server import create_app

    if not 1 <= port <= 65535:
        raise InvalidInputError(f"port {port} is not 1..65535", where="--port")
    if not 1 <= workers <= 64:
        raise InvalidInputError(f"--workers {workers} is not 1..64", where="--workers")
    built = application(db=db, secure_cookies=secure_cookies or None)
    store = built.store
    console.print(f"store: [bold]{store.url}[/]")
    built.bank  # noqa: B018  (the bank services and their settings, checked before anything is served)
    if demo:
        from cordmatch.services.bank_demo import DEMO_PASSWORD, seed_demo_if_empty

        with console.status("seeding demo data…"):
            seeded = seed_demo_if_empty(built.bank)
        if seeded is None:
            console.print(
                "demo: the store already has users; nothing seeded (demo accounts work if it was seeded before)"
            )
        else:
            console.print(
                f"demo data: {len(seeded.dins)} units in states {', '.join(sorted(set(seeded.dins.values())))}"
            )
        console.print(f"[bold]demo users[/] (password for each: [bold]{DEMO_PASSWORD}[/]):")
        from cordmatch.services.bank_demo import DEMO_USERS

        for username, role in DEMO_USERS.items():
            console.print(f"  {username:10} {role}")
    from cordmatch.cli.common import load_tables

    load_tables()  # the search needs the HLA tables: build them now (first run only), not in a request
    console.print(f"serving on [bold]http://{host}:{port}/[/] (API docs at /docs); Ctrl+C stops")
    if workers > 1:
        if not built.settings.throttle_storage:
            console.print(
                f"note: each of the {workers} processes counts failed log-ins alone (an attacker gets up to "
                f"{workers}x the limit); set CORDMATCH_THROTTLE_STORAGE=redis://HOST:6379 to count them together"
            )
        store.close()
        _serve_workers(built.settings, host, port, workers)
        return
    app = create_app(application=built)

    async def main() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = workers_threads
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info")).serve()

    try:
        anyio.run(main)
    finally:
        built.close()


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Several server processes: uvicorn in a child process, its workers each building the application with
    ``cordmatch.server:app_from_env`` from the settings passed in the child's environment (the store as a
    resolved URL, one CSRF secret for all workers so each accepts the others' forms)."""
    import secrets
    import subprocess
    import sys

    from cordmatch.config import child_environment
    from cordmatch.store.engine import default_url

    shared = settings.replace(db=default_url(settings), secret=settings.secret or secrets.token_hex(32))
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "cordmatch.server:app_from_env",
           "--host", host, "--port", str(port), "--workers", str(workers)]  # fmt: skip
    with subprocess.Popen(cmd, env=child_environment(shared)) as server:
        try:
            server.wait()
        except KeyboardInterrupt:  # Ctrl+C reached the server too: let it shut down
            server.wait()
            raise


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
