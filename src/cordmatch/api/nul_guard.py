"""Guard every request at the door: a size limit (413), NUL characters and over-deep JSON (422).

PostgreSQL cannot store U+0000 in text (the driver raises) and no field of the bank has a use for it;
refusing it at the door turns what would be a server error into an error naming the field. Bodies
larger than ``MAX_REQUEST_BYTES`` (``MAX_IMPORT_BYTES`` for CSV imports) are refused with 413 before
they are read in full, so that one client cannot tie up a worker or its memory; JSON nested deeper than
``MAX_JSON_DEPTH`` is refused (it would exhaust the parser's recursion).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordmatch.http.problems import PROBLEM_JSON, problem_type
from cordmatch.plausibility import MAX_IMPORT_BYTES, MAX_JSON_DEPTH, MAX_REQUEST_BYTES

IMPORT_PATHS = ("/api/v1/units/import",)

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


def json_too_deep(body: bytes) -> bool:
    """True when the JSON ``body`` nests arrays/objects deeper than MAX_JSON_DEPTH (or cannot be parsed
    for depth); False for shallow or malformed-but-shallow JSON (the route reports those)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    try:
        value = json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return False


def body_limit(path: str) -> int:
    return MAX_IMPORT_BYTES if path in IMPORT_PATHS else MAX_REQUEST_BYTES


def find_nul(query: bytes, body: bytes, content_type: str) -> tuple[str, str] | None:
    """(where, field) of the first NUL character in the request, or None."""
    if b"%00" in query.lower() or b"\x00" in query:
        return "query", _form_field(query) or "query"
    if not body:
        return None
    if "json" in content_type and (_JSON_NUL.search(body) or b"\x00" in body):
        try:
            return "body", _json_path(json.loads(body)) or "body"
        except (ValueError, RecursionError):
            return "body", "body"
    if "x-www-form-urlencoded" in content_type and (b"%00" in body.lower() or b"\x00" in body):
        return "body", _form_field(body) or "body"
    if "multipart/" not in content_type and b"\x00" in body:
        line = body[: body.index(b"\x00")].count(b"\n") + 1
        return "body", f"line {line}"
    return None


async def _send_problem(send: Send, status: int, title: str, field: str, where: str, why: str) -> None:
    payload = {
        "type": problem_type(status),
        "title": title,
        "status": status,
        "detail": f"{field}: {why}",
        "errors": [{"field": field, "in": where, "detail": why}],
    }
    data = json.dumps(payload).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(data)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class NulGuard:
    """ASGI middleware: 413 for an over-large body, 422 problem+json for a NUL character anywhere in an
    HTTP request or an over-deep JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path_raw: bytes = scope.get("raw_path") or scope["path"].encode()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = body_limit(scope["path"])
        too_large = f"request body larger than {limit} bytes"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _send_problem(send, 413, "Payload too large", "body", "body", too_large)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_problem(send, 413, "Payload too large", "body", "body", too_large)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get("content-type", "").lower()
        hit = find_nul(scope.get("query_string", b""), body, content_type)
        if hit is None and (b"%00" in path_raw.lower() or "\x00" in scope["path"]):
            hit = ("path", "path")
        if hit is not None:
            where, field = hit
            await _send_problem(send, 422, "Invalid input", field, where, "NUL characters are not accepted")
            return
        if ("json" in content_type or not content_type) and json_too_deep(body):
            why = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            await _send_problem(send, 422, "Invalid input", "body", "body", why)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
