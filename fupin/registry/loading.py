"""A generated province into the registry (`fupin load`): Parquet → `HouseholdRecord` batches.

The directory is what `fupin generate` writes (engine/synth.py): `households.parquet` and
`members.parquet`, both in `household_id` order (members grouped by household). They are
read in step with pyarrow's `iter_batches`, a batch of households (20,000 by default) with
their members at a time, so memory stays bounded whatever the size. Each batch becomes
`bulk.HouseholdRecord`s — the household's fields, its members (with the sex and birth
date the file states, which the import checks against each resident ID) and its income —
and goes through `services.import_households`, the same validation and the same one write
as an Excel import: each batch is all-or-nothing, and loading stops at the first batch
with an error, reporting every error of that batch.

**Resumable.** The import matches a household by its head's resident ID, a member by his
ID within the household and income by year, so loading a directory again updates (or
leaves unchanged) what is there instead of adding it twice: after an interruption, run the
same command again; the batches already written come back unchanged.

**Who loads.** The import needs a user: permissions and area scoping apply to a load as to
any other entry. `--user` names one; without it the console loads as the province's
loading account (`fupin-load-45` for Guangxi: a data officer of the province, created
through `core.services.create_user` on first use with a random password nobody knows), so
the audit trail says who wrote every household.

**Areas.** The villages must exist. Any that do not are loaded from the vendored division
table first (`load_divisions` for their provinces), as `fupin areas load` would.

Row numbers in error reports are the files' `household_id` and `person_id`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fupin.core.divisions import load_divisions
from fupin.core.models import Area, AreaLevel, User
from fupin.core.roles import Role
from fupin.core.services import create_user
from fupin.registry import services
from fupin.registry.bulk import HouseholdRecord, RowError
from fupin.registry.validation import HOUSEHOLD_FIELDS, INCOME_FIELDS, MEMBER_FIELDS

#: Households per call of `import_households` (each call is one transaction).
BATCH = 20_000

HOUSEHOLDS_FILE = "households.parquet"
MEMBERS_FILE = "members.parquet"

#: Household fields read from their column of the same name ("village" is `village_code`).
H_FIELDS = [f for f in HOUSEHOLD_FIELDS if f != "village"]
H_COLUMNS = ["household_id", "village_code", "people", *H_FIELDS, "income_year", *INCOME_FIELDS]
#: Member fields, and sex and birth date: stated in the file, checked against the ID.
M_FIELDS = [*MEMBER_FIELDS, "sex", "birth_date"]
M_COLUMNS = ["person_id", "household_id", *M_FIELDS]
#: Income keys as `import_households` takes them, from `income_year` and the sources.
I_KEYS = ["year", *INCOME_FIELDS]

REASON = gettext_lazy("Loaded from generated survey files (fupin load)")
LOADER_NAME = gettext_lazy("Console loading account")

Progress = Callable[[int, int], None]


class LoadError(Exception):
    """The directory cannot be loaded as it is (a missing file or column, files out of
    step); the message says what to fix."""


@dataclass
class LoadResult:
    households: int = 0  # households in the files
    done: int = 0  # households through `import_households` without error
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    members_created: int = 0
    members_updated: int = 0
    batches: int = 0
    areas_loaded: int = 0
    seconds: float = 0.0
    user: str = ""
    errors: list[RowError] = field(default_factory=list)
    failed_rows: tuple[int, int] | None = None  # household_id range of the failed batch

    @property
    def ok(self) -> bool:
        return not self.errors


# -- reading ----------------------------------------------------------------------------------


def open_files(directory: Path) -> tuple[pq.ParquetFile, pq.ParquetFile]:
    """The two Parquet files, checked for presence and columns."""
    files = []
    for name, wanted in ((HOUSEHOLDS_FILE, H_COLUMNS), (MEMBERS_FILE, M_COLUMNS)):
        path = directory / name
        if not path.is_file():
            raise LoadError(
                _("%(file)s is missing from %(dir)s.") % {"file": name, "dir": directory}
            )
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise LoadError(
                _("%(file)s is not a readable Parquet file: %(error)s")
                % {"file": name, "error": exc}
            ) from exc
        missing = [c for c in wanted if c not in parquet.schema_arrow.names]
        if missing:
            raise LoadError(
                _("%(file)s lacks the columns %(columns)s.")
                % {"file": name, "columns": ", ".join(missing)}
            )
        files.append(parquet)
    return files[0], files[1]


def _python(batch: pa.RecordBatch | pa.Table, names: list[str]) -> dict[str, list[Any]]:
    """Columns as Python lists (Decimal, date, bool, int, str, None)."""
    return {name: batch.column(name).to_pylist() for name in names}


def iter_records(directory: Path, batch: int = BATCH) -> Iterator[list[HouseholdRecord]]:
    """The households of the directory as lists of at most `batch` records, in file order."""
    households, members = open_files(directory)
    member_batches = members.iter_batches(batch_size=max(batch * 4, 1024), columns=M_COLUMNS)
    schema = pa.schema([members.schema_arrow.field(c) for c in M_COLUMNS])
    pending: pa.Table = schema.empty_table()
    exhausted = False
    previous = 0
    for hb in households.iter_batches(batch_size=batch, columns=H_COLUMNS):
        ids = hb.column("household_id").to_numpy()
        if len(ids) == 0:
            continue
        if ids[0] <= previous or (len(ids) > 1 and not (np.diff(ids) > 0).all()):
            raise LoadError(_("%(file)s is not in household_id order.") % {"file": HOUSEHOLDS_FILE})
        last = int(ids[-1])
        previous = last
        # Members come in household order: read until past this batch's last household.
        while not exhausted and (
            pending.num_rows == 0 or pending.column("household_id")[-1].as_py() <= last
        ):
            try:
                more = next(member_batches)
            except StopIteration:
                exhausted = True
                break
            pending = pa.concat_tables([pending, pa.Table.from_batches([more]).cast(schema)])
        owner = pending.column("household_id").to_numpy()
        cut = int(np.searchsorted(owner, last, side="right"))
        if cut and not (np.diff(owner[:cut]) >= 0).all():
            raise LoadError(_("%(file)s is not in household_id order.") % {"file": MEMBERS_FILE})
        mine, pending = pending.slice(0, cut), pending.slice(cut)
        owner = owner[:cut]
        unknown = owner[~np.isin(owner, ids)]
        if len(unknown):
            raise LoadError(
                _("%(file)s lists household %(id)s, which %(other)s does not have.")
                % {"file": MEMBERS_FILE, "id": int(unknown[0]), "other": HOUSEHOLDS_FILE}
            )
        yield _records(hb, mine, ids, owner)
    if pending.num_rows or (not exhausted and next(member_batches, None) is not None):
        rest = pending.column("household_id")[0].as_py() if pending.num_rows else "?"
        raise LoadError(
            _("%(file)s lists household %(id)s, which %(other)s does not have.")
            % {"file": MEMBERS_FILE, "id": rest, "other": HOUSEHOLDS_FILE}
        )


def _records(
    hb: pa.RecordBatch, mine: pa.Table, ids: np.ndarray, owner: np.ndarray
) -> list[HouseholdRecord]:
    h = _python(hb, H_COLUMNS)
    m = _python(mine, M_COLUMNS)
    counts = np.bincount(np.searchsorted(ids, owner), minlength=len(ids))
    people = h["people"]
    for i, (found, stated) in enumerate(zip(counts.tolist(), people, strict=True)):
        if found != stated:
            raise LoadError(
                _(
                    "Household %(id)d has %(found)d members in %(file)s, but its people "
                    "column says %(people)d."
                )
                % {"id": int(ids[i]), "found": found, "file": MEMBERS_FILE, "people": stated}
            )
    # Rows built with zip and dict(zip(...)): about twice as fast as indexing column lists.
    member_values = zip(*(m[name] for name in M_FIELDS), strict=True)
    member_rows = list(zip(m["person_id"], member_values, strict=True))
    household_rows = zip(*(h[name] for name in H_FIELDS), strict=True)
    income_rows = zip(h["income_year"], *(h[name] for name in INCOME_FIELDS), strict=True)
    records = []
    start = 0
    for i, (hid, values, income) in enumerate(
        zip(h["household_id"], household_rows, income_rows, strict=True)
    ):
        household = dict(zip(H_FIELDS, values, strict=True))
        household["village"] = h["village_code"][i]
        stop = start + int(counts[i])
        people_rows = [
            (row, dict(zip(M_FIELDS, member, strict=True)))
            for row, member in member_rows[start:stop]
        ]
        start = stop
        records.append(
            HouseholdRecord(hid, household, people_rows, dict(zip(I_KEYS, income, strict=True)))
        )
    return records


# -- areas and the acting user -------------------------------------------------------------------


def village_codes(directory: Path) -> set[str]:
    table = pq.read_table(directory / HOUSEHOLDS_FILE, columns=["village_code"])
    return set(pc.unique(table.column("village_code")).to_pylist())


def ensure_areas(codes: set[str]) -> int:
    """Load the divisions of the provinces whose villages are missing; rows written."""
    missing: set[str] = set()
    ordered = sorted(codes)
    for i in range(0, len(ordered), 5000):
        part = ordered[i : i + 5000]
        known = set(
            Area.objects.filter(code__in=part, level=AreaLevel.VILLAGE).values_list(
                "code", flat=True
            )
        )
        missing |= set(part) - known
    if not missing:
        return 0
    provinces = {c[:2] for c in missing}
    try:
        return sum(load_divisions(provinces=provinces).values())
    except ValueError as exc:  # a province the table does not know
        raise LoadError(str(exc)) from exc


def loader_account(province: str) -> User:
    """The console's loading account for a province, created on first use.

    A data officer of the province (the import needs a user whose area and roles cover the
    households); its password is random and never shown, so nobody signs in with it.
    """
    username = f"fupin-load-{province}"
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    return create_user(
        actor=None,
        username=username,
        password=secrets.token_urlsafe(24),
        area_code=province,
        roles=[Role.DATA_OFFICER.value],
        full_name=str(LOADER_NAME),
        reason=str(REASON),
    )


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


# -- the load ---------------------------------------------------------------------------------


def load_directory(
    directory: Path | str,
    user: User | None = None,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> LoadResult:
    """Load a generated directory (see the module's docstring); stops at the first batch
    with errors and returns them."""
    started = time.monotonic()
    directory = Path(directory)
    households, _members = open_files(directory)
    result = LoadResult(households=households.metadata.num_rows)
    codes = village_codes(directory)
    result.areas_loaded = ensure_areas(codes)
    if user is None:
        provinces = {c[:2] for c in codes}
        if len(provinces) != 1:
            raise LoadError(
                _("The households lie in several provinces (%(codes)s): name a user with --user.")
                % {"codes": ", ".join(sorted(provinces))}
            )
        user = loader_account(provinces.pop())
    result.user = user.get_username()
    source = (
        f"{directory.resolve()} {HOUSEHOLDS_FILE} sha256:{_digest(directory / HOUSEHOLDS_FILE)} "
        f"{MEMBERS_FILE} sha256:{_digest(directory / MEMBERS_FILE)}"
    )
    total = result.households
    if progress:
        progress(0, total)
    for records in iter_records(directory, batch):
        offset, size = result.done, len(records)

        def step(phase: str, done: int, of: int, offset: int = offset, size: int = size) -> None:
            # One bar for the whole load: checking is about a third of a batch's time.
            if progress and of:
                share = 0.35 * done / of if phase == "validate" else 0.35 + 0.65 * done / of
                progress(offset + int(size * min(share, 1.0)), total)

        outcome = services.import_households(
            user, records, reason=str(REASON), source=source, progress=step
        )
        result.batches += 1
        if outcome.errors:
            result.errors = outcome.errors
            result.failed_rows = (records[0].row, records[-1].row)
            break
        result.done += size
        result.created += outcome.created
        result.updated += outcome.updated
        result.unchanged += outcome.unchanged
        result.members_created += outcome.members_created
        result.members_updated += outcome.members_updated
        if progress:
            progress(result.done, total)
    result.seconds = time.monotonic() - started
    return result
