"""A verification run as a job (DESIGN.md data flow 3): registry snapshot → engine match →
findings.

The job writes the area's people to Parquet (`registry.snapshot.write_snapshot`, projected
to the people file of issue 5: person_id, household_id, county_code, id_number, name),
links each chosen dataset's file into a records folder under its kind's name, and runs
`engine.match.run_match` over them. Its matches (person × department record) and
duplicates (a person registered twice) are stored as open findings with
`verification.store_findings`, each match with the department record's fields as
evidence. The files stay in the job's folder: what was compared, with which versions, is on
record.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fupin.core import jobs
from fupin.identify import verification
from fupin.identify.models import DUPLICATE, DepartmentDataset, VerificationRun
from fupin.registry.snapshot import write_snapshot

PEOPLE_COLUMNS = ("person_id", "household_id", "county_code", "id_number", "name")


def write_people(snapshot: Path, out: Path) -> pa.Table:
    """The people file: members with their household's county (members.parquet has none)."""
    members = pq.read_table(
        snapshot / "members.parquet", columns=["person_id", "household_id", "id_number", "name"]
    )
    households = pq.read_table(
        snapshot / "households.parquet", columns=["household_id", "county_code"]
    )
    people = members.join(households, "household_id", join_type="left outer").select(
        list(PEOPLE_COLUMNS)
    )
    pq.write_table(people, out, compression="zstd")
    return people


def link_records(datasets: list[DepartmentDataset], records: Path) -> None:
    """records/<kind>.parquet for each dataset: a link where the file system allows one."""
    records.mkdir(parents=True, exist_ok=True)
    for d in datasets:
        target = records / f"{d.kind}.parquet"
        source = Path(d.file.path)
        try:
            os.symlink(source, target)
        except OSError:
            shutil.copyfile(source, target)


def _records_by_id(path: Path, wanted: list[int]) -> dict[int, dict[str, Any]]:
    """The matched records' fields, read only for the matched record ids."""
    table = pq.read_table(path)
    rows = table.filter(pc.is_in(table["record_id"], value_set=pa.array(wanted, pa.int64())))
    return {int(r["record_id"]): r for r in rows.to_pylist()}


def _found(
    matches: pa.Table,
    duplicates: pa.Table,
    households: dict[int, int],
    records: Path,
) -> Iterator[verification.Found]:
    for kind in sorted(set(matches["dataset"].to_pylist())):
        part = matches.filter(pc.equal(matches["dataset"], kind)).sort_by(
            [("person_id", "ascending"), ("record_id", "ascending")]
        )
        fields = _records_by_id(records / f"{kind}.parquet", part["record_id"].to_pylist())
        for row in part.to_pylist():
            yield verification.Found(
                kind=kind,
                person_id=row["person_id"],
                household_id=households[row["person_id"]],
                method=row["method"],
                score=row["score"],
                record_id=row["record_id"],
                record=fields.get(row["record_id"], {}),
            )
    extra = [c for c in duplicates.column_names if c not in ("person_id", "other_person_id")]
    for row in duplicates.sort_by(
        [("person_id", "ascending"), ("other_person_id", "ascending")]
    ).to_pylist():
        person, other = row["person_id"], row["other_person_id"]
        yield verification.Found(
            kind=DUPLICATE,
            person_id=person,
            household_id=households[person],
            method=row["method"],
            score=row["score"],
            record={
                "other_person_id": other,
                "other_household_id": households.get(other),
                **{c: row[c] for c in extra if c not in ("method", "score")},
            },
            other_person_id=other,
        )


@jobs.register(
    "identify.verify",
    label=gettext_lazy("Cross-department verification"),
    permission=verification.MANAGE,
)
def verify_job(job: jobs.JobContext) -> dict[str, int]:
    from engine.match import run_match  # written alongside (issue 5 item 2)

    run = VerificationRun.objects.select_related("area").get(pk=job.params["run"])
    datasets = list(run.datasets.all())
    work: Path = job.workdir
    job.progress(_("Reading the registry"), 0, None)
    write_snapshot(
        job.user,
        run.area_id,
        work / "snapshot",
        progress=job.progress,
        statuses=verification.VERIFIED_STATUSES,
    )
    people = write_people(work / "snapshot", work / "people.parquet")
    records = work / "records"
    link_records(datasets, records)
    out = work / "match"
    job.progress(_("Matching"), 0, None)
    run_match(
        work / "people.parquet",
        records,
        out,
        progress=lambda phase, done, total: job.progress(_("Matching"), done, total),
    )
    matches = pq.read_table(out / "matches.parquet")
    duplicates = pq.read_table(out / "duplicates.parquet")
    households = dict(
        zip(people["person_id"].to_pylist(), people["household_id"].to_pylist(), strict=True)
    )
    total = matches.num_rows + duplicates.num_rows
    job.progress(_("Storing the findings"), 0, total)
    stored = verification.store_findings(
        job.user,
        run,
        _found(matches, duplicates, households, records),
        people=people.num_rows,
        matches=matches.num_rows,
        duplicates=duplicates.num_rows,
    )
    job.progress(_("Storing the findings"), stored, total)
    return {"people": people.num_rows, "matches": matches.num_rows, "findings": stored}
