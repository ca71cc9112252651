"""A wrong ISBT 128 check character (or check flag) is refused WITHOUT naming the right one, in the
library, the CLI, the API and the pages: naming it would let a mistyped DIN be "fixed" by changing the
check instead of re-reading the label."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cordmatch.bank.din import ALPHABET, check_character, check_flag, parse_din
from cordmatch.errors import InvalidInputError

BODY = "G123498654321"  # check character H, check flag 77
WRONG = [BODY + c for c in ALPHABET if c != "H"] + [f"={BODY}{f}" for f in (60, 70, 76, 78, 96)]


def _reveals(message: str, text: str) -> bool:
    """Does ``message`` name the right check of ``text``'s DIN (character or flag)?"""
    right_char, right_flag = check_character(BODY), check_flag(BODY)
    tail = message.split(BODY, 1)[1] if BODY in message else message
    return f"'{right_char}'" in tail or right_flag in tail or "expected" in message


@pytest.mark.parametrize("text", WRONG)
def test_library_refuses_without_revealing(text: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        parse_din(text)
    assert "wrong check" in exc.value.message
    assert not _reveals(exc.value.message, text), exc.value.message


def test_cli_refuses_without_revealing(run_cli: Any) -> None:
    for text in ("G123498654321X", "=G12349865432170"):
        code, out, err = run_cli(["din", "check", text])
        assert code == 2 and "wrong check" in err and "Traceback" not in err
        assert not _reveals(err + out, text), err
        code, out, err = run_cli(["din", "check", text, "--json"])
        assert code == 2 and not _reveals(json.loads(out)["reason"], text)


def test_api_and_pages_refuse_without_revealing(client: Any) -> None:
    from web.conftest import login

    login(client, "tech")
    r = client.get("/api/v1/units/G123498654321X")
    assert r.status_code in (400, 422) and "wrong check character" in r.text
    assert not _reveals(r.text, "G123498654321X"), r.text
    page = client.get("/units/G123498654321X")
    assert page.status_code in (400, 422) and "wrong check character" in page.text
    assert not _reveals(page.text.split("wrong check character", 1)[1][:300], "G123498654321X")
