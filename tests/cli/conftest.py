"""CLI fixtures: the web fixtures (a demo store) for commands that read the bank."""

from __future__ import annotations

from services.conftest import _cheap_password_hashing  # noqa: F401
from web.conftest import client, seeded_db, web_app  # noqa: F401  (fixtures)
