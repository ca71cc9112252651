"""`cordmatch din|audit|bank ...` end to end on a SQLite store (the services are tested on both stores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cordmatch.services.bank_csv import COLUMNS

PW = "director's long password"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    from cordmatch.services.auth import set_password_hasher

    old = set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    monkeypatch.setenv("CORDMATCH_PASSWORD", PW)
    monkeypatch.setenv("CORDMATCH_NEW_PASSWORD", PW)
    monkeypatch.delenv("CORDMATCH_TOKEN", raising=False)
    yield
    set_password_hasher(old)


def test_din_commands(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(["din", "check", "G123498654321H"])[0] == 0
    code, out, _ = run_cli(["din", "check", "=G12349865432177", "--json"])
    assert code == 0 and json.loads(out)["check_character"] == "H"
    code, _, err = run_cli(["din", "check", "G123498654321X"])
    assert code == 2 and "wrong check character 'X'" in err and "Traceback" not in err
    assert run_cli(["din", "checkchar", "G123498654321"])[1].strip() == "H"
    assert run_cli(["din", "checkchar", "A999921123456"])[1].strip() == "3"
    code, _, err = run_cli(["din", "checkchar", "A99992112345"])
    assert code == 2 and "13 characters" in err
    assert run_cli(["din", "issue", "W0001", "2026", "42"])[1].strip().startswith("W000126000042")


def test_bank_cli_journey(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "bank.sqlite3")
    codes = tmp_path / "codes.csv"
    codes.write_text("code,description\nX0001,HPC Cord Blood (test)\n")
    init = ["bank", "init", "--db", db, "--admin", "root", "--bank", "B1", "--bank-name", "Bank One",
            "--accreditation", "FACT-NetCord", "--product-codes", str(codes)]  # fmt: skip
    code, out, err = run_cli(init)
    assert code == 0, err
    for name, role, extra in [("dir", "director", []), ("tech", "technician", []),
                              ("coord", "coordinator", ["--centre", "Centre A"])]:  # fmt: skip
        assert run_cli(["bank", "user", "add", name, "--role", role, *extra, "--db", db, "--user", "root"])[0] == 0
    row = {c: "" for c in COLUMNS} | {
        "din": "G123426000001", "product_code": "X0001", "bank_code": "B1",
        "collected_at": "2026-01-05T10:00:00Z", "collection_volume_ml": "80", "pre_cryo_tnc": "1.2e9",
        "post_thaw_viable_cd34_pct": "90", "post_thaw_viable_cd45_pct": "70", "post_thaw_cfu": "50",
        "hla_gl": "A*01:01+A*02:01^B*07:02+B*08:01", "abo": "B", "rh": "neg", "idm_result": "negative",
        "sterility": "negative", "hb_screen": "normal", "segments": "2", "tank": "1", "rack": "1", "box": "1",
        "slot": "1",
    }  # fmt: skip
    csv_path = tmp_path / "units.csv"
    csv_path.write_text(",".join(COLUMNS) + "\n" + ",".join(row[c] for c in COLUMNS) + "\n")
    code, out, err = run_cli(["bank", "import", str(csv_path), "--db", db, "--user", "tech"])
    assert code == 0 and "imported 1" in out, err
    code, _, err = run_cli(["bank", "import", str(csv_path), "--db", db, "--user", "tech"])
    assert code == 2 and "line 2" in err and "already registered" in err
    assert run_cli(["bank", "unit", "move", "G123426000001", "received", "--db", db, "--user", "tech"])[0] == 0
    # received -> processed needs the post-processing counts (issue 12): refused without them
    code, _, err = run_cli(["bank", "unit", "move", "G123426000001", "processed", "--db", db, "--user", "tech"])
    assert code == 2 and "post-processing counts" in err and "Traceback" not in err
    # a processing step without its TNC is refused, naming the field
    code, _, err = run_cli(["bank", "unit", "process", "G123426000001", "--db", db, "--user", "tech"])
    assert code == 2 and "TNC" in err and "Traceback" not in err
    code, out, err = run_cli(["bank", "unit", "process", "G123426000001", "--tnc", "1.3e9", "--cd34", "5e6",
                              "--volume", "25", "--db", db, "--user", "tech"])  # fmt: skip
    assert code == 0 and "processed" in out, err
    code, out, err = run_cli(["bank", "unit", "counts", "G123426000001", "--stage", "pre_cryo", "--tnc", "1.2e9",
                              "--db", db, "--user", "tech"])  # fmt: skip
    assert code == 0 and "pre_cryo counts recorded" in out, err
    code, _, err = run_cli(["bank", "unit", "counts", "G123426000001", "--stage", "thawed", "--tnc", "1e9",
                            "--db", db, "--user", "tech"])  # fmt: skip
    assert code == 2 and "stage" in err and "Traceback" not in err
    for state in ("cryopreserved", "quarantine"):
        assert run_cli(["bank", "unit", "move", "G123426000001", state, "--db", db, "--user", "tech"])[0] == 0
    code, _, err = run_cli(["bank", "release", "G123426000001", "--db", db, "--user", "tech"])
    assert code == 2 and "technician may not unit.release" in err
    code, out, err = run_cli(["bank", "release", "G123426000001", "--json", "--db", db, "--user", "dir"])
    assert code == 0, err
    assert json.loads(out)["summary"] == "released G123426000001"
    code, token, _ = run_cli(["bank", "user", "token", "ci", "--db", db, "--user", "coord"])
    code, out, err = run_cli(["bank", "reserve", "G123426000001", "--patient", "P-1", "--json", "--db", db,
                          "--token", token.strip()])  # fmt: skip
    assert code == 0 and json.loads(out)["centre"] == "Centre A", err
    code, out, _ = run_cli(["bank", "unit", "list", "--json", "--db", db, "--user", "tech"])
    assert json.loads(out)["items"][0]["state"] == "reserved"
    code, out, _ = run_cli(["bank", "unit", "show", "G123426000001", "--db", db, "--user", "tech"])
    assert "G1234260000014" in out  # the DIN with its check character (4)
    code, out, _ = run_cli(["bank", "export", "--db", db, "--user", "tech"])
    assert "G123426000001" in out and "A*01:01+A*02:01^B*07:02+B*08:01" in out
    code, out, _ = run_cli(["audit", "verify", "--db", db])
    assert code == 0 and "intact" in out
    # tamper: the CLI names the first broken link
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 4")
    con.commit()
    con.close()
    code, _, err = run_cli(["audit", "verify", "--db", db])
    assert code == 2 and "audit row 4" in err


def test_bank_cli_needs_an_actor(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(["bank", "unit", "list", "--db", str(tmp_path / "b.sqlite3")])
    assert code == 2 and "--user" in err


def test_bank_demo(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "demo.sqlite3")
    code, out, err = run_cli(["bank", "demo", "--db", db])
    assert code == 0 and "8 units" in out, err
    code, _, err = run_cli(["bank", "demo", "--db", db])
    assert code == 2 and "users exist already" in err


def test_the_acting_user_comes_from_the_option_else_the_settings(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "bank.sqlite3")
    assert run_cli(["bank", "init", "--db", db, "--admin", "root"])[0] == 0
    monkeypatch.delenv("CORDMATCH_USER", raising=False)
    code, _, err = run_cli(["bank", "unit", "list", "--db", db])
    assert code == 2 and "say who acts" in err
    monkeypatch.setenv("CORDMATCH_USER", "root")  # the variable
    assert run_cli(["bank", "unit", "list", "--db", db])[0] == 0
    monkeypatch.setenv("CORDMATCH_USER", "nobody")
    code, _, err = run_cli(["bank", "unit", "list", "--db", db])
    assert code == 2 and "wrong password" in err
    assert run_cli(["bank", "unit", "list", "--db", db, "--user", "root"])[0] == 0  # the option wins
    monkeypatch.setenv("CORDMATCH_DB_POOL", "lots")  # a bad setting stops every command, naming the variable
    code, _, err = run_cli(["bank", "unit", "list", "--db", db, "--user", "root"])
    assert code == 2 and "CORDMATCH_DB_POOL" in err and "Traceback" not in err
