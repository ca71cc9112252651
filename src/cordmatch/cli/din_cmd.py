"""`cordmatch din ...`: check, compute and issue ISBT 128 DINs (ISO 7064 mod 37-2 check character)."""

from __future__ import annotations

from typing import Annotated

import typer

from cordmatch.cli.common import JsonOpt, console, err_console, print_json
from cordmatch.errors import CordmatchError

din_app = typer.Typer(help="ISBT 128 Donation Identification Numbers.", no_args_is_help=True)


@din_app.command("check")
def check_cmd(
    din: Annotated[str, typer.Argument(help="A DIN: 13 characters, + check character, or = + 13 + flags.")],
    as_json: JsonOpt = False,
) -> None:
    """Exit 0 when DIN is valid (and its check character or flag right), else exit 2 saying why."""
    from cordmatch.bank.din import parse_din

    try:
        parsed = parse_din(din)
    except CordmatchError as exc:
        if as_json:
            print_json({"input": din, "valid": False, "reason": exc.message})
        err_console.print(f"[bold red]invalid DIN:[/] {exc.message}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print_json({"input": din, "valid": True, "din": str(parsed), "facility": parsed.facility,
                    "year": parsed.year, "sequence": parsed.sequence, "check_character": parsed.check,
                    "barcode": parsed.barcode})  # fmt: skip
    else:
        console.print(
            f"valid: {parsed.facility} {parsed.year:02d} {parsed.sequence:06d}  check character {parsed.check}"
            f"  barcode {parsed.barcode}",
            highlight=False,
        )


@din_app.command("checkchar")
def checkchar_cmd(din13: Annotated[str, typer.Argument(help="The 13 DIN characters.")]) -> None:
    """Print the check character of a 13-character DIN."""
    from cordmatch.bank.din import check_character

    print(check_character(din13))


@din_app.command("issue")
def issue_cmd(
    facility: Annotated[str, typer.Argument(help="Facility identification number (letter + 4 digits).")],
    year: Annotated[int, typer.Argument(help="Year (2 or 4 digits).")],
    sequence: Annotated[int, typer.Argument(help="Sequence number 1..999999.")],
) -> None:
    """Print a new DIN with its check character."""
    from cordmatch.bank.din import issue_din

    print(issue_din(facility, year, sequence).labelled)


def register(app: typer.Typer) -> None:
    app.add_typer(din_app, name="din")
