"""`cordmatch serve`: the REST API and the pages on one uvicorn server (SQLite by default)."""

from __future__ import annotations

from typing import Annotated

import typer

from cordmatch.cli.common import console


def serve_command(
    db: Annotated[
        str | None,
        typer.Option("--db", help="database URL or SQLite file (default: $CORDMATCH_DB or the data directory)"),
    ] = None,
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
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    if not 1 <= port <= 65535:
        raise InvalidInputError(f"port {port} is not 1..65535", where="--port")
    if not 1 <= workers <= 64:
        raise InvalidInputError(f"--workers {workers} is not 1..64", where="--workers")
    store = open_store(db)
    console.print(f"store: [bold]{store.url}[/]")
    if demo:
        from cordmatch.services.bank_demo import DEMO_PASSWORD, seed_demo_if_empty

        with console.status("seeding demo data…"):
            seeded = seed_demo_if_empty(BankService(store))
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
        import os
        import secrets

        from cordmatch.server import SECRET_ENV, SECURE_COOKIES_ENV
        from cordmatch.store.engine import DB_ENV, resolve_url

        store.close()
        os.environ[DB_ENV] = resolve_url(db)
        os.environ.setdefault(SECRET_ENV, secrets.token_hex(32))
        if secure_cookies:
            os.environ[SECURE_COOKIES_ENV] = "1"
        uvicorn.run("cordmatch.server:app_from_env", factory=True, host=host, port=port, workers=workers)
        return
    app = create_app(store=store, secure_cookies=secure_cookies)

    async def main() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = workers_threads
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info")).serve()

    try:
        anyio.run(main)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
