"""What fupin's matcher is measured against (issue 5 item 5): Splink, and the naive pairwise
comparison; and the one definition of a right match all three are scored by.

A predicted match is the triple (person_id, dataset, record_id); it is right when the
generator's truth (`departments/truth.parquet`) gives that person for that record. Records
of people outside the people file (truth person null) can only be matched wrongly.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.normalize import name_keys, normalize_id, normalize_name, with_ids
from engine.normalize import name_pinyin as pinyin_of

PAIR_SCHEMA = pa.schema(
    [("person_id", pa.int64()), ("dataset", pa.string()), ("record_id", pa.int64())]
)
#: The record subsets quality is reported on: the truth's `error` column.
SUBSETS = {
    "all records": "true",
    "exact-ID truth (error = none)": "t.error = 'none'",
    "typo cases (error ≠ none)": "t.error <> 'none'",
}


def record_files(records_dir: Path) -> list[Path]:
    return sorted(p for p in records_dir.glob("*.parquet") if p.stem != "truth")


# --- scoring ------------------------------------------------------------------------------


def quality(pred: pa.Table, truth: pa.Table) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of `pred` (person_id, dataset, record_id) against `truth`
    (dataset, record_id, person_id, error), on each subset of `SUBSETS` and each error kind.
    A record's subset is its truth's; a prediction for a record not in the truth is wrong."""
    con = duckdb.connect()
    pred = pred.select(["person_id", "dataset", "record_id"])
    con.register("pred", pred)
    con.register("truth", truth.select(["dataset", "record_id", "person_id", "error"]))
    subsets = dict(SUBSETS)
    errors = [r[0] for r in con.execute("SELECT DISTINCT error FROM truth ORDER BY 1").fetchall()]
    subsets.update({f"error = {e}": f"t.error = '{e}'" for e in errors})
    out: dict[str, dict[str, float]] = {}
    for label, cond in subsets.items():
        predicted, right = con.execute(
            # coalesce: count_if over no rows is NULL.
            "SELECT count(*), coalesce(count_if(p.person_id = t.person_id), 0) FROM "
            "(SELECT DISTINCT * FROM pred) p LEFT JOIN truth t USING (dataset, record_id) "
            f"WHERE coalesce({cond}, false)"
        ).fetchone() or (0, 0)
        relevant = (
            con.execute(
                f"SELECT count(*) FROM truth t WHERE t.person_id IS NOT NULL AND {cond}"
            ).fetchone()
            or (0,)
        )[0]
        precision = right / predicted if predicted else 1.0
        recall = right / relevant if relevant else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "predicted": predicted,
            "right": right,
            "relevant": relevant,
        }
    return out


# --- the same normalised inputs for the baselines -----------------------------------------


def normalised(people_file: Path, records_dir: Path) -> tuple[pa.Table, pa.Table]:
    """People and records with fupin's own normalisation (engine.normalize): `id_norm`,
    `birth`, `sex` (null unless 18 characters), `name_norm`, `name_pinyin` — so a baseline
    is judged on its matching, not on the cleaning fupin does before it."""
    con = ibis.duckdb.connect()
    p = con.read_parquet(str(people_file)).select("person_id", "id_number", "name")
    parts = []
    for path in record_files(records_dir):
        t = con.read_parquet(str(path))
        parts.append(
            t.select(
                dataset=ibis.literal(path.stem, type="string"),
                record_id=t.record_id.cast("int64"),
                id_number=t.id_number,
                name=t["name"],
            )
        )
    r = ibis.union(*parts)
    cols = ("id_norm", "birth", "sex")
    people = with_ids(p).select("person_id", *cols, "name").to_pyarrow()
    records = with_ids(r).select("dataset", "record_id", *cols, "name").to_pyarrow()
    names = pa.concat_arrays(
        [
            pc.unique(people["name"].combine_chunks()),
            pc.unique(records["name"].combine_chunks()),
        ]
    )
    keys = name_keys(pc.unique(names).to_pylist())
    raw = duckdb.connect()
    raw.register("keys", keys)
    raw.register("people", people)
    raw.register("records", records)
    sel = (
        "x.* EXCLUDE (name), coalesce(k.name_norm, '') AS name_norm, "
        "coalesce(k.name_pinyin, '') AS name_pinyin"
    )
    people = raw.sql(
        f"SELECT {sel} FROM people x LEFT JOIN keys k USING (name) ORDER BY person_id"
    ).to_arrow_table()
    records = raw.sql(
        f"SELECT {sel} FROM records x LEFT JOIN keys k USING (name) ORDER BY dataset, record_id"
    ).to_arrow_table()
    return people, records


# --- Splink -------------------------------------------------------------------------------

SPLINK_THRESHOLD = 0.9
#: Each side of a link_only job needs one unique id: the record's is its dataset's position
#: times this, plus its record_id.
DATASET_STRIDE = 10**10


def id_u_probabilities(n_people: int) -> tuple[float, float, float]:
    """u of the ID levels (exact, one edit, two edits) from how rare IDs are, fixed rather
    than sampled: a random pair of distinct people never shares an ID, so Splink's random
    sample of 10⁷ pairs (out of 10¹² at 1M people) sees no pair on those levels and leaves
    their u untrained — the model then ignores the strongest evidence there is. The
    exact level's u is 1 ÷ people (an ID lent to someone else, at most); IDs one or two
    edits apart are ten and a hundred times as common (neighbours' sequence numbers)."""
    n = max(n_people, 1)
    return 1 / n, 10 / n, 100 / n


def splink_settings(n_people: int) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    u_exact, u_one, u_two = id_u_probabilities(n_people)

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.CustomComparison(
                [
                    cll.NullLevel("name_norm"),
                    cll.ExactMatchLevel("name_norm"),
                    # A homophone is the same pinyin: the level a Chinese name model needs.
                    cll.ExactMatchLevel("name_pinyin"),
                    cll.JaroWinklerLevel("name_norm", 0.9),
                    cll.JaroWinklerLevel("name_norm", 0.7),
                    cll.ElseLevel(),
                ],
                output_column_name="name",
            ),
            cl.CustomComparison(
                [
                    cll.NullLevel("id_norm"),
                    cll.ExactMatchLevel("id_norm").configure(
                        u_probability=u_exact, fix_u_probability=True
                    ),
                    # Damerau: a swap of two adjacent digits is one edit, as a typist makes it.
                    cll.DamerauLevenshteinLevel("id_norm", 1).configure(
                        u_probability=u_one, fix_u_probability=True
                    ),
                    cll.DamerauLevenshteinLevel("id_norm", 2).configure(
                        u_probability=u_two, fix_u_probability=True
                    ),
                    cll.ElseLevel(),
                ],
                output_column_name="id_number",
            ),
            # The birth date a Splink user compares anyway (read from the ID here, so a
            # typo in the ID's birth digits shows as one edit in it).
            cl.CustomComparison(
                [
                    cll.NullLevel("birth"),
                    cll.ExactMatchLevel("birth"),
                    cll.DamerauLevenshteinLevel("birth", 1),
                    cll.ElseLevel(),
                ],
                output_column_name="birth",
            ),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth", "sex"),
            block_on("name_pinyin", "birth_year"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def splink_match(people: pa.Table, records: pa.Table, seed: int = 1) -> tuple[pa.Table, dict]:
    """Splink (DuckDB backend) over the normalised inputs: link_only, u by random sampling,
    m by EM, λ from exact ID + name; every pair over `SPLINK_THRESHOLD`, best per record.
    Returns the predicted pairs and the seconds of each step."""
    from splink import DuckDBAPI, Linker, block_on

    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    # No extension may be fetched at run time: with autoinstall off, an attempt fails loudly.
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    datasets = sorted(set(records["dataset"].to_pylist()))
    position = {d: i + 1 for i, d in enumerate(datasets)}
    con.register("p_arrow", people)
    con.register("r_arrow", records)
    con.register(
        "positions",
        pa.table({"dataset": list(position), "position": list(position.values())}),
    )
    cols = "id_norm, name_norm, name_pinyin, birth, substr(birth, 1, 4) AS birth_year, sex"
    con.execute(f"CREATE TABLE people_in AS SELECT person_id AS unique_id, {cols} FROM p_arrow")
    con.execute(
        f"CREATE TABLE records_in AS SELECT position * {DATASET_STRIDE} + record_id AS unique_id, "
        f"{cols} FROM r_arrow JOIN positions USING (dataset)"
    )
    con.unregister("p_arrow")
    con.unregister("r_arrow")
    db_api = DuckDBAPI(connection=con)
    sdf_people = db_api.register("people_in", dataset_display_name="people")
    sdf_records = db_api.register("records_in", dataset_display_name="records")
    linker = Linker(
        [sdf_people, sdf_records], splink_settings(people.num_rows), log_level=logging.WARNING
    )
    t1 = time.monotonic()
    seconds["load"] = t1 - t0

    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_norm", "name_norm")], recall=0.95
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth", "sex"), record_sample_proportion=0.2
    )
    t2 = time.monotonic()
    seconds["train"] = t2 - t1

    scored = linker.inference.predict(threshold_match_probability=SPLINK_THRESHOLD)
    rel = scored.as_duckdbpyrelation()
    con.register("scored", rel.to_arrow_table())
    pairs = con.sql(
        "WITH s AS (SELECT CASE WHEN source_dataset_l = 'people' THEN unique_id_l "
        "ELSE unique_id_r END AS person_id, CASE WHEN source_dataset_l = 'people' "
        "THEN unique_id_r ELSE unique_id_l END AS rid, match_probability FROM scored), "
        "best AS (SELECT person_id, rid, row_number() OVER (PARTITION BY rid "
        "ORDER BY match_probability DESC, person_id) AS n FROM s) "
        f"SELECT person_id, rid // {DATASET_STRIDE} AS position, rid % {DATASET_STRIDE} "
        "AS record_id FROM best WHERE n = 1"
    ).to_arrow_table()
    t3 = time.monotonic()
    seconds["predict"] = t3 - t2
    seconds["total"] = t3 - t0
    names = np.array(["", *datasets], dtype=object)
    out = pa.table(
        {
            "person_id": pairs["person_id"].cast(pa.int64()),
            "dataset": pa.array(names[pairs["position"].to_numpy()], pa.string()),
            "record_id": pairs["record_id"].cast(pa.int64()),
        },
        schema=PAIR_SCHEMA,
    )
    seconds["scored_pairs"] = float(
        (con.execute("SELECT count(*) FROM scored").fetchone() or (0,))[0]
    )
    con.close()
    return out, seconds


def splink_comparisons(people: pa.Table, records: pa.Table) -> int:
    """Pairs the two prediction blocking rules generate (a pair in both counted once)."""
    con = duckdb.connect()
    con.register("p", people)
    con.register("r", records)
    row = con.execute(
        "WITH a AS (SELECT birth, sex, count(*) n FROM p WHERE birth IS NOT NULL GROUP BY ALL),"
        " b AS (SELECT birth, sex, count(*) n FROM r WHERE birth IS NOT NULL GROUP BY ALL) "
        "SELECT sum(a.n * b.n) FROM a JOIN b USING (birth, sex)"
    ).fetchone()
    return int((row or (0,))[0] or 0)


# --- the naive pairwise comparison ---------------------------------------------------------

NAIVE_THRESHOLD = 0.85
NAIVE_NAME_WEIGHT = 0.5


def naive_sample(
    people_file: Path, records_dir: Path, truth: pa.Table, n_people: int, n_records: int, seed: int
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """`n_people` people at random, every record of theirs, and other records at random up
    to `n_records`: raw people, raw records (dataset, record_id, id_number, name) and the
    truth of those records with the person nulled where he is not in the sample."""
    rng = np.random.default_rng(seed)
    people = pq.read_table(people_file, columns=["person_id", "id_number", "name"])
    pick = np.sort(rng.choice(people.num_rows, size=min(n_people, people.num_rows), replace=False))
    people = people.take(pa.array(pick))
    ids = people["person_id"]
    theirs = truth.filter(pc.is_in(truth["person_id"], value_set=ids))
    theirs = theirs.slice(0, n_records)
    others = truth.filter(pc.invert(pc.is_in(truth["person_id"], value_set=ids)).fill_null(True))
    extra = rng.choice(others.num_rows, size=max(0, n_records - theirs.num_rows), replace=False)
    chosen = pa.concat_tables([theirs, others.take(pa.array(np.sort(extra)))])
    con = duckdb.connect()
    con.register("chosen", chosen)
    con.register("sampled", people.select(["person_id"]))
    parts = []
    for path in record_files(records_dir):
        t = pq.read_table(path, columns=["record_id", "id_number", "name"])
        con.register("t", t)
        parts.append(
            con.sql(
                f"SELECT '{path.stem}' AS dataset, t.record_id, t.id_number, t.name FROM t "
                f"SEMI JOIN chosen c ON c.dataset = '{path.stem}' AND c.record_id = t.record_id"
            ).to_arrow_table()
        )
        con.unregister("t")
    records = pa.concat_tables(parts)
    sample_truth = con.sql(
        "SELECT dataset, record_id, CASE WHEN person_id IN (SELECT person_id FROM sampled) "
        "THEN person_id END AS person_id, error FROM chosen"
    ).to_arrow_table()
    return people, records, sample_truth


def naive_match(people: pa.Table, records: pa.Table) -> tuple[pa.Table, dict[str, float]]:
    """Every record against every person, one pair at a time in Python: score
    `NAIVE_NAME_WEIGHT` × name similarity (Jaro-Winkler of the normalised names or of their
    pinyin, the better) + the rest × ID similarity (1 − Damerau-Levenshtein / 4); the best
    person per record at or over `NAIVE_THRESHOLD`. Names and IDs are normalised once per
    row first (fupin's rules, in Python) — the comparisons are what is counted."""
    from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

    t0 = time.monotonic()
    ppl = [
        (pid, normalize_id(i)[0], n, pinyin_of(n))
        for pid, i, n in (
            (pid, i, normalize_name(nm))
            for pid, i, nm in zip(
                people["person_id"].to_pylist(),
                people["id_number"].to_pylist(),
                people["name"].to_pylist(),
                strict=True,
            )
        )
    ]
    recs = [
        (ds, rid, normalize_id(i)[0], n, pinyin_of(n))
        for ds, rid, i, n in (
            (ds, rid, i, normalize_name(nm))
            for ds, rid, i, nm in zip(
                records["dataset"].to_pylist(),
                records["record_id"].to_pylist(),
                records["id_number"].to_pylist(),
                records["name"].to_pylist(),
                strict=True,
            )
        )
    ]
    t1 = time.monotonic()
    jw, dl = JaroWinkler.normalized_similarity, DamerauLevenshtein.distance
    w = NAIVE_NAME_WEIGHT
    out_p: list[int] = []
    out_d: list[str] = []
    out_r: list[int] = []
    for ds, rid, rid_norm, rname, rpin in recs:
        best, who = NAIVE_THRESHOLD, -1
        for pid, pid_norm, pname, ppin in ppl:
            name_sim = max(jw(rname, pname), jw(rpin, ppin))
            id_sim = max(0.0, 1.0 - dl(rid_norm, pid_norm) / 4)
            score = w * name_sim + (1 - w) * id_sim
            if score > best or (score == best and who == -1):
                best, who = score, pid
        if who != -1:
            out_p.append(who)
            out_d.append(ds)
            out_r.append(rid)
    t2 = time.monotonic()
    pairs = pa.table(
        {
            "person_id": pa.array(out_p, pa.int64()),
            "dataset": pa.array(out_d, pa.string()),
            "record_id": pa.array(out_r, pa.int64()),
        },
        schema=PAIR_SCHEMA,
    )
    return pairs, {"prepare": t1 - t0, "compare": t2 - t1, "pairs": float(len(ppl) * len(recs))}
