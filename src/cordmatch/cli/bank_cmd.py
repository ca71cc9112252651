"""`cordmatch bank ...`: run the cord blood bank from the command line (the same services as the API).

Who acts: ``--token`` (or $CORDMATCH_TOKEN), else ``--user`` (or $CORDMATCH_USER) with the password
from $CORDMATCH_PASSWORD or a prompt. The store: ``--db`` (SQLite file or URL), else $CORDMATCH_DB,
else ``<data dir>/cordmatch.sqlite3``. The variables come from the settings (``cordmatch.config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cordmatch.cli.common import DbOpt, JsonOpt, application, console, print_json
from cordmatch.errors import InvalidInputError
from cordmatch.reports.numbers import LEGEND, threshold_text

if TYPE_CHECKING:
    from cordmatch.services.auth import Principal
    from cordmatch.services.bank import BankService
    from cordmatch.services.schemas import BankOut, UnitOut

bank_app = typer.Typer(help="The cord blood bank: units, release, reservations, users.", no_args_is_help=True)
user_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
unit_app = typer.Typer(help="Units: register, list, show, process, counts, move.", no_args_is_help=True)
bank_app.add_typer(user_app, name="user")
bank_app.add_typer(unit_app, name="unit")

UserOpt = Annotated[str | None, typer.Option("--user", help="Acting user name (default: $CORDMATCH_USER).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (default: $CORDMATCH_TOKEN).")]


def _service(db: str | None) -> BankService:
    """The bank service of the application (on ``--db`` when given)."""
    return application(db=db).bank


def _password(given: str | None, prompt: str, *, confirm: bool = False) -> str:
    """``given`` (a password from the settings), else asked for without echo."""
    if given is not None:
        return given
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _actor(svc: BankService, user: str | None, token: str | None) -> Principal:
    settings = application().settings
    token = token or settings.token
    user = user or settings.user
    if token:
        return svc.users.authenticate_token(token)
    if user:
        return svc.users.authenticate(user, _password(settings.password, f"password for {user}"))
    raise InvalidInputError("say who acts: --user NAME (or $CORDMATCH_USER) or --token", where="--user")


def number(value: Any) -> str:
    """A recorded value for reading (numbers without float noise)."""
    from cordmatch.reports.numbers import number as fmt

    return fmt(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


@bank_app.command("init")
def init_cmd(
    admin: Annotated[str, typer.Option("--admin", help="User name of the first administrator.")],
    db: DbOpt = None,
    bank: Annotated[str | None, typer.Option("--bank", help="Bank code to register.")] = None,
    bank_name: Annotated[str | None, typer.Option("--bank-name")] = None,
    accreditation: Annotated[str, typer.Option("--accreditation", help="e.g. FACT-NetCord, AABB, none")] = "none",
    facility: Annotated[str | None, typer.Option("--facility", help="ISBT 128 FIN of the bank.")] = None,
    bank_contact: Annotated[
        str | None, typer.Option("--bank-contact", help="Who transplant centres contact (search desk, phone, e-mail).")
    ] = None,
    product_codes: Annotated[
        Path | None, typer.Option("--product-codes", help="CSV code,description (the bank's licensed table).")
    ] = None,
    qc_criteria: Annotated[Path | None, typer.Option("--qc-criteria", help="QC release criteria (JSON).")] = None,
) -> None:
    """Create the store, the first administrator (password: $CORDMATCH_PASSWORD or prompt) and a bank."""
    from cordmatch.bank.product_codes import ProductCodeTable

    svc = _service(db)
    password = application().settings.password
    svc.users.bootstrap_admin(admin, _password(password, f"password for {admin}", confirm=True))
    actor = svc.users.authenticate(admin, _password(password, f"password for {admin}"))
    if bank:
        svc.catalogue.add_bank(actor, bank, bank_name or bank, accreditation=accreditation, facility_id=facility,
                               contact=bank_contact)  # fmt: skip
    if product_codes:
        n = svc.catalogue.load_product_codes(actor, ProductCodeTable.from_csv(_read(product_codes)))
        console.print(f"{n} product codes loaded")
    if qc_criteria:
        svc.release.set_qc_criteria(actor, _read(qc_criteria))
    console.print(f"bank store ready at {svc.store.url}", highlight=False)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", where=str(path)) from None


@user_app.command("add")
def user_add_cmd(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help="technician, director, coordinator or admin")],
    centre: Annotated[str | None, typer.Option("--centre", help="Transplant centre (coordinators).")] = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Add a user (their password: $CORDMATCH_NEW_PASSWORD or prompt)."""
    svc = _service(db)
    actor = _actor(svc, user, token)
    out = svc.users.create_user(
        actor, username, _password(application().settings.new_password, f"new password for {username}", confirm=True),
        role, centre=centre,
    )  # fmt: skip
    console.print(f"user {out.username} ({out.role}) added", highlight=False)


@user_app.command("token")
def user_token_cmd(
    name: Annotated[str, typer.Argument(help="What the token is for.")],
    days: Annotated[int | None, typer.Option("--days", help="Lifetime in days (default: no expiry).")] = None,
    for_user: Annotated[str | None, typer.Option("--for", help="Another user (administrators).")] = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Issue an API token; it is printed once and only its hash is stored."""
    svc = _service(db)
    out = svc.users.issue_token(_actor(svc, user, token), name, days=days, for_user=for_user)
    print(out.token)


@unit_app.command("register")
def unit_register_cmd(
    din: Annotated[str, typer.Option("--din")],
    product_code: Annotated[str, typer.Option("--product-code")],
    bank: Annotated[str, typer.Option("--bank", help="Bank code.")],
    collected_at: Annotated[str, typer.Option("--collected-at", help="ISO 8601 with zone, e.g. 2026-05-01T08:00Z")],
    volume: Annotated[float | None, typer.Option("--volume", help="Collection volume, mL.")] = None,
    tnc: Annotated[float | None, typer.Option("--tnc", help="Collection TNC, cells.")] = None,
    cd34: Annotated[float | None, typer.Option("--cd34", help="Collection CD34+, cells.")] = None,
    hla: Annotated[str | None, typer.Option("--hla", help="HLA typing, GL string.")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="tank/rack/box/slot")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Register a collection."""
    from cordmatch.services.bank_csv import _datetime

    pos = None
    if storage:
        parts = storage.split("/")
        if len(parts) != 4 or not all(parts):
            raise InvalidInputError("storage must be tank/rack/box/slot", where="--storage")
        pos = dict(zip(("tank", "rack", "box", "slot"), parts, strict=True))
    data: dict[str, Any] = {
        "din": din,
        "product_code": product_code,
        "bank_code": bank,
        "collected_at": _datetime(collected_at, "collected_at"),
        "collection_volume_ml": volume,
        "collection": {"volume_ml": volume, "tnc": tnc, "cd34": cd34} if (tnc or cd34) else None,
        "hla_gl": hla,
        "storage": pos,
    }
    svc = _service(db)
    out = svc.units.register_unit(_actor(svc, user, token), data)
    if as_json:
        print_json(_dump(out))
    else:
        console.print(f"registered {out.din_labelled} ({out.state})", highlight=False)


@unit_app.command("list")
def unit_list_cmd(
    state: Annotated[str | None, typer.Option("--state")] = None,
    bank: Annotated[str | None, typer.Option("--bank")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """List units, newest collection first."""
    from rich.table import Table

    svc = _service(db)
    page = svc.catalogue.list_units(
        _actor(svc, user, token), {"state": state, "bank_code": bank}, limit=limit, offset=offset
    )
    if as_json:
        print_json(_dump(page))
        return
    table = Table()
    table.add_column("DIN", no_wrap=True, min_width=14)  # never wraps
    table.add_column("state", no_wrap=True)
    table.add_column("bank", no_wrap=True)
    table.add_column("collected", no_wrap=True)
    table.add_column("TNC before\ncryo (cells)", no_wrap=True, justify="right")
    table.add_column("ABO/Rh", no_wrap=True)
    # the other columns take about 75 characters: the GL strings only when there is room for them
    with_hla = console.width >= 100
    if with_hla:
        table.add_column("HLA (in full: unit show)", no_wrap=True, overflow="ellipsis", max_width=console.width - 80)
    for u in page.items:
        pre = u.measurements.get("pre_cryo")
        row = [u.din_labelled, u.state, u.bank_code, u.collected_at.date().isoformat(),
               number(pre.tnc) if pre and pre.tnc else "", f"{u.abo or ''} {u.rh or ''}"]  # fmt: skip
        table.add_row(*row, *([u.hla_gl or "not typed"] if with_hla else []))
    console.print(table)
    console.print(f"{len(page.items)} of {page.total} (offset {page.offset})")
    if not with_hla:
        console.print("HLA typings: in a wider terminal, or with `bank unit show DIN`", highlight=False)


@unit_app.command("show")
def unit_show_cmd(
    din: Annotated[str, typer.Argument()],
    as_json: JsonOpt = False,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show one unit with its typings, counts and active reservation."""
    svc = _service(db)
    actor = _actor(svc, user, token)
    out = svc.catalogue.get_unit(actor, din)
    if as_json:
        print_json(_dump(out))
        return
    print_unit(out, svc.catalogue.list_banks(actor), svc.catalogue.product_codes().codes.get(out.product_code))


def print_unit(unit: UnitOut, banks: list[BankOut], product: str | None) -> None:
    """A unit for people: labelled sections, cells as ``2.16 x10^9 cells``, counts as one grid."""
    from rich.table import Table

    from cordmatch.reports import unit_facts

    for section in unit_facts.sections(unit, banks, product):
        table = Table(title=section.title, title_justify="left", show_header=False, box=None, padding=(0, 1))
        table.add_column("what", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for label, value in section.rows:
            table.add_row(label, value)
        console.print(table)
    grid = unit_facts.counts_grid(unit)
    counts = Table(*grid[0], title="Counts ('-': not measured at that stage)", title_justify="left")
    for row in grid[1:]:
        counts.add_row(*row)
    console.print(counts)


@unit_app.command("report")
def unit_report_cmd(
    din: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option("--out", help="PDF file to write.")],
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Write the unit report for the transplant centre (PDF): facts, HLA, counts, QC checklist, bank."""
    from cordmatch.reports.files import format_of, write_file
    from cordmatch.reports.service import unit_report_pdf

    format_of(out, ("pdf",))
    svc = _service(db)
    write_file(out, unit_report_pdf(svc, _actor(svc, user, token), din))
    console.print(f"unit report written to {out}", highlight=False)


@unit_app.command("label")
def unit_label_cmd(
    din: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option("--out", help="Label file to write: .pdf or .svg.")],
    donation_type: Annotated[
        str, typer.Option("--donation-type", help="ISBT 128 type of donation in the product code.")
    ] = "V",
    division: Annotated[str, typer.Option("--division", help="ISBT 128 division code (2 characters).")] = "00",
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Write the ISBT 128 bag label (PDF or SVG) with Code 128 barcodes for the DIN and the product code."""
    from cordmatch.reports.files import format_of, write_file
    from cordmatch.reports.service import unit_label

    fmt = format_of(out, ("pdf", "svg"))
    svc = _service(db)
    write_file(out, unit_label(svc, _actor(svc, user, token), din, fmt, donation_type, division))
    console.print(f"label written to {out}", highlight=False)


@unit_app.command("move")
def unit_move_cmd(
    din: Annotated[str, typer.Argument()],
    state: Annotated[str, typer.Argument(help="received, processed, cryopreserved, quarantine, discarded, research")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Move a unit to the next lifecycle state."""
    svc = _service(db)
    out = svc.units.transition(_actor(svc, user, token), din, state, reason=reason)
    console.print(f"{out.din_labelled}: {out.state}", highlight=False)


@bank_app.command("release")
def release_cmd(
    din: Annotated[str, typer.Argument()],
    exceptional: Annotated[
        str | None, typer.Option("--exceptional", help="Release although criteria fail; the reason.")
    ] = None,
    check_only: Annotated[bool, typer.Option("--check", help="Only show the checklist.")] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """QC release a quarantined unit (bank director), printing every criterion with value and verdict."""
    from rich.table import Table

    svc = _service(db)
    actor = _actor(svc, user, token)
    if check_only:
        decision = svc.release.release_check(actor, din)
        items = [{"text": i.text, "value": i.value, "verdict": i.verdict, "source": i.source} for i in decision.items]
        head = f"checklist: {'all criteria met' if decision.passed else 'NOT releasable'}"
    else:
        out = svc.release.release(actor, din, exceptional_reason=exceptional)
        items = [i.model_dump() for i in out.items]
        head = f"released {out.din}" + (" (EXCEPTIONAL RELEASE)" if out.exceptional else "")
    if as_json:
        print_json({"summary": head, "items": items})
        return
    table = Table("criterion", "value", "verdict", "source")
    for i in items:
        colour = {"pass": "green", "fail": "red", "missing": "yellow"}.get(i["verdict"], "white")
        value = "not recorded" if i["value"] in (None, "") else number(i["value"])
        table.add_row(threshold_text(i["text"]), value, f"[{colour}]{i['verdict']}[/]", i["source"])
    console.print(table)
    console.print(f"[dim]sources: {LEGEND}[/]", highlight=False)
    console.print(head, highlight=False)


@bank_app.command("reserve")
def reserve_cmd(
    din: Annotated[str, typer.Argument()],
    patient: Annotated[str, typer.Option("--patient", help="Patient reference at the centre.")],
    centre: Annotated[str | None, typer.Option("--centre")] = None,
    days: Annotated[int, typer.Option("--days", help="Reservation length, days.")] = 30,
    ct: Annotated[bool, typer.Option("--ct", help="Request confirmatory typing.")] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Reserve an available unit (transplant-centre coordinator)."""
    svc = _service(db)
    out = svc.reservations.reserve(_actor(svc, user, token), din, patient, centre=centre, days=days, request_ct=ct)
    if as_json:
        print_json(_dump(out))
    else:
        console.print(f"reservation {out.id}: {out.din} for {out.patient_ref} until {out.expires_at:%Y-%m-%d}")


@bank_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="CSV file of units.")],
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Import units from CSV, all or nothing; prints every bad line and field."""
    from cordmatch.cli.common import err_console
    from cordmatch.services.bank_csv import CsvImportError, import_units_csv

    svc = _service(db)
    try:
        result = import_units_csv(svc, _actor(svc, user, token), _read(path))
    except CsvImportError as exc:
        err_console.print(f"[bold red]not imported, nothing written[/] ({len(exc.issues)} problems):")
        for issue in exc.issues:
            err_console.print(f"  {path}:{issue}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"imported {result.imported} units")


@bank_app.command("export")
def export_cmd(
    path: Annotated[Path | None, typer.Argument(help="Output CSV (default: standard output).")] = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Export units as CSV (typings as GL strings)."""
    from cordmatch.services.bank_csv import export_units_csv

    svc = _service(db)
    text = export_units_csv(svc, _actor(svc, user, token), {"state": state})
    if path is None:
        print(text, end="")
    else:
        path.write_text(text, encoding="utf-8")


@bank_app.command("demo")
def demo_cmd(db: DbOpt = None) -> None:
    """Fill an empty store with demo users and units (invented data; demo passwords)."""
    from cordmatch.services.bank_demo import DEMO_PASSWORD, seed_demo

    seed = seed_demo(_service(db))
    console.print(f"demo bank with {len(seed.dins)} units; users {', '.join(seed.users)}, "
                  f"password {DEMO_PASSWORD!r}", highlight=False)  # fmt: skip


@bank_app.command("expire")
def expire_cmd(db: DbOpt = None) -> None:
    """Expire reservations past their end (for a daily timer)."""
    from cordmatch.services.auth import SYSTEM

    n = _service(db).reservations.expire_reservations(SYSTEM)
    console.print(f"{n} reservations expired")


@bank_app.command("grant-app-role")
def grant_app_role_cmd(
    role: Annotated[str, typer.Argument(help="the PostgreSQL role the server connects as")],
    db: DbOpt = None,
) -> None:
    """PostgreSQL, run as the owner: give ROLE what the server needs and only SELECT/INSERT on the audit
    trail (it can then neither change, delete nor unguard audit rows)."""
    from cordmatch.store.deploy import grant_application_role

    with application(db=db).open_store(create=False) as store:
        grant_application_role(store, role)
    console.print(f"granted {role}: bank tables read/write, audit_log SELECT and INSERT only", highlight=False)


def register(app: typer.Typer) -> None:
    from cordmatch.cli import bank_counts_cmd  # noqa: F401  (adds `unit process` and `unit counts`)

    app.add_typer(bank_app, name="bank")
