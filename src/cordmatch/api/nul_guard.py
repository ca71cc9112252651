"""Refuse NUL characters in any request (query, JSON, form or CSV body) with 422 problem+json.

PostgreSQL cannot store U+0000 in text (the driver raises) and no field of the bank has a use for it;
refusing it at the door turns what would be a server error into an error naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordmatch.api.problems import PROBLEM_JSON, problem_type

_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _json_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in str(k):
                return f"{path}.{k}".lstrip(".")
            found = _json_path(v, f"{path}.{k}".lstrip("."))
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _json_path(v, f"{path}.{i}".lstrip("."))
            if found:
                return found
    return None


def _form_field(raw: bytes) -> str | None:
    for k, v in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in k or "\x00" in v:
            return k.replace("\x00", "")
    return None


def find_nul(query: bytes, body: bytes, content_type: str) -> tuple[str, str] | None:
    """(where, field) of the first NUL character in the request, or None."""
    if b"%00" in query.lower() or b"\x00" in query:
        return "query", _form_field(query) or "query"
    if not body:
        return None
    if "json" in content_type and (_JSON_NUL.search(body) or b"\x00" in body):
        try:
            return "body", _json_path(json.loads(body)) or "body"
        except ValueError:
            return "body", "body"
    if "x-www-form-urlencoded" in content_type and (b"%00" in body.lower() or b"\x00" in body):
        return "body", _form_field(body) or "body"
    if "multipart/" not in content_type and b"\x00" in body:
        line = body[: body.index(b"\x00")].count(b"\n") + 1
        return "body", f"line {line}"
    return None


class NulGuard:
    """ASGI middleware: 422 problem+json for a NUL character anywhere in an HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path_raw: bytes = scope.get("raw_path") or scope["path"].encode()
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        hit = find_nul(scope.get("query_string", b""), body, headers.get("content-type", "").lower())
        if hit is None and (b"%00" in path_raw.lower() or "\x00" in scope["path"]):
            hit = ("path", "path")
        if hit is not None:
            where, field = hit
            detail = f"{field}: NUL characters are not accepted"
            payload = {
                "type": problem_type(422),
                "title": "Invalid input",
                "status": 422,
                "detail": detail,
                "errors": [{"field": field, "in": where, "detail": "NUL characters are not accepted"}],
            }
            data = json.dumps(payload).encode()
            await send({"type": "http.response.start", "status": 422,
                        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                    (b"content-length", str(len(data)).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": data})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
