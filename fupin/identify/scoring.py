"""Scoring a campaign as a job (DESIGN.md data flow 3): registry snapshot → engine → results.

The job writes the candidate households of the campaign's area to Parquet
(`registry.snapshot.write_snapshot`), scores them with the campaign's own scorecard text
(`engine.score.run_score`), cuts each county at its quota (`engine.cutoff.run_cutoff`)
and stores every household's score, item points and verdict with
`services.store_scores`. The files stay in the job's folder: what was scored, on which
card, is on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from engine.cutoff import run_cutoff
from engine.score import run_score
from fupin.core import jobs
from fupin.identify import services
from fupin.identify.models import Campaign, CampaignCounty
from fupin.registry.snapshot import write_snapshot


def _rows(scores: pa.Table, cut: pa.Table) -> Iterator[services.ScoredHousehold]:
    point_cols = [c for c in scores.column_names if c.startswith("p_")]
    veto_cols = [c for c in scores.column_names if c.startswith("v_")]
    verdict = {
        hid: (sel, near)
        for hid, sel, near in zip(
            cut["household_id"].to_pylist(),
            cut["selected"].to_pylist(),
            cut["near_line"].to_pylist(),
            strict=True,
        )
    }
    for batch in scores.to_batches(max_chunksize=5000):
        data = batch.to_pydict()
        for i, hid in enumerate(data["household_id"]):
            selected, near = verdict.get(hid, (False, False))
            yield services.ScoredHousehold(
                household_id=hid,
                county_code=data["county_code"][i],
                people=data["people"][i],
                score=data["score"][i],
                vetoed=bool(data["vetoed"][i]),
                selected=bool(selected),
                near_line=bool(near),
                points={c[2:]: data[c][i] for c in point_cols},
                vetoes=[c[2:] for c in veto_cols if data[c][i]],
            )


def _county_lines(counties: pa.Table) -> list[services.CountyLine]:
    return [
        services.CountyLine(
            county_code=row["county_code"],
            line=row["line"],
            selected_people=row["selected_people"],
            selected_households=row["selected_households"],
            deviation=row["deviation"],
        )
        for row in counties.to_pylist()
    ]


@jobs.register(
    "identify.score",
    label=gettext_lazy("Scoring of an identification campaign"),
    permission=services.MANAGE,
)
def score_job(job: jobs.JobContext) -> dict[str, int]:
    campaign = Campaign.objects.select_related("scorecard").get(pk=job.params["campaign"])
    try:
        return _score(job, campaign)
    except BaseException:
        services.scoring_failed(campaign.pk)
        raise


def _score(job: jobs.JobContext, campaign: Campaign) -> dict[str, int]:
    work: Path = job.workdir
    snapshot = work / "snapshot"
    job.progress(_("Reading the registry"), 0, None)
    write_snapshot(
        job.user,
        campaign.area_id,
        snapshot,
        progress=job.progress,
        statuses=services.CANDIDATE_STATUSES,
    )
    card_file = work / "scorecard.yaml"
    card_file.write_text(campaign.scorecard.text, encoding="utf-8")
    card = campaign.scorecard.card
    scores_file = work / "scores.parquet"
    run_score(
        snapshot,
        card_file,
        scores_file,
        progress=lambda phase, done, total: job.progress(_("Scoring"), done, total),
    )
    quotas_file = work / "quotas.csv"
    rows = CampaignCounty.objects.filter(campaign=campaign).values_list("county_id", "quota_people")
    quotas_file.write_text(
        "county_code,quota_people\n" + "".join(f"{c},{q}\n" for c, q in rows), encoding="utf-8"
    )
    cut, counties = run_cutoff(
        scores_file,
        quotas_file,
        work / "cutoff",
        progress=lambda done, total: job.progress(_("Drawing the lines"), done, total),
        higher_is_better_off=card.direction == "higher_is_better_off",
    )
    scores = pq.read_table(scores_file)
    job.progress(_("Storing the scores"), 0, scores.num_rows)
    stored = services.store_scores(
        job.user,
        campaign,
        _rows(scores, cut),
        _county_lines(counties),
        job_id=job.job.pk,
    )
    job.progress(_("Storing the scores"), stored, scores.num_rows)
    return {
        "households": stored,
        "selected": sum(1 for s in cut["selected"].to_pylist() if s),
        "counties": counties.num_rows,
    }
