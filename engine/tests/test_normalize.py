"""ID and name normalisation of the matching job (issue 5 item 2; DOMAIN.md §3
"Cross-department checks": records of other departments carry typed IDs and names)."""

from __future__ import annotations

import ibis
import pytest

from engine.normalize import check_char, name_keys, normalize_id, with_ids

BODY = "45010219900101123"  # issuing area 450102, born 1990-01-01, sequence 123 (a man)
ID = BODY + check_char(BODY)


def _x_id() -> str:
    """An ID whose check character is X (about one in eleven)."""
    for seq in range(100, 999):
        body = f"45010219850315{seq}"
        if check_char(body) == "X":
            return body + "X"
    raise AssertionError("no X")


def _engine(raw: list[str | None]) -> list[tuple[str, bool]]:
    t = ibis.memtable({"id_number": raw}, schema={"id_number": "string"})
    out = with_ids(t).select("id_norm", "id_valid").to_pyarrow().to_pylist()
    return [(r["id_norm"], r["id_valid"]) for r in out]


FULL_WIDTH = ID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
CASES = {
    "plain": (ID, (ID, True)),
    "full-width digits": (FULL_WIDTH, (ID, True)),
    "lower-case x": (_x_id().lower(), (_x_id(), True)),
    "full-width x": (_x_id()[:17] + "ｘ", (_x_id(), True)),
    "spaces and hyphens": (f"{ID[:6]} {ID[6:14]}-{ID[14:]}\u3000", (ID, True)),
    # GB 11643: the first generation's 15 digits lack the century and the check digit.
    "15-digit": (ID[:6] + ID[8:17], (ID, True)),
    "bad check digit": (
        BODY + ("0" if ID[-1] != "0" else "1"),
        (BODY + ("0" if ID[-1] != "0" else "1"), False),
    ),
    "too short": ("4501021990", ("4501021990", False)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_id_normalisation(case: str) -> None:
    """Issue 5 item 2: full-width digits and X, lower-case x, spaces/hyphens, 15 → 18 with
    the check digit computed, and a bad check digit flagged — the same in SQL and Python."""
    raw, expected = CASES[case]
    assert _engine([raw]) == [expected]
    assert normalize_id(raw) == expected


def test_null_id_is_invalid() -> None:
    """A record without an ID is never valid (and never matches on ID)."""
    assert _engine([None])[0][1] is False


def test_parts_a_typo_leaves_intact() -> None:
    """Blocking keys: issuing area, birth date, sex by the parity of the 17th digit."""
    t = ibis.memtable({"id_number": [ID, "garbage"]})
    rows = with_ids(t).to_pyarrow().to_pylist()
    assert (rows[0]["area"], rows[0]["birth"], rows[0]["sex"]) == ("450102", "19900101", "1")
    assert (rows[1]["area"], rows[1]["birth"], rows[1]["sex"]) == (None, None, None)


def test_names_normalised() -> None:
    """Issue 5 item 2: NFKC, spaces and middle dots removed, traditional → simplified,
    toneless pinyin for blocking."""
    keys = name_keys(["陳國華", "买买提·艾力", "买买提•艾力", "张 伟", "ＡＢ"]).to_pylist()
    got = {k["name"]: (k["name_norm"], k["name_pinyin"]) for k in keys}
    assert got["陳國華"] == ("陈国华", "chenguohua")
    assert got["买买提·艾力"] == ("买买提艾力", "maimaitiaili")
    assert got["买买提•艾力"] == ("买买提艾力", "maimaitiaili")
    assert got["张 伟"] == ("张伟", "zhangwei")
    assert got["ＡＢ"] == ("AB", "ab")


def test_check_digit_in_sql_agrees_with_python_on_many_ids() -> None:
    """GB 11643 MOD 11-2 (issue 5 item 2): the engine computes the check character by
    integer arithmetic on three chunks of the body; on random IDs — valid, mistyped,
    15-digit — it agrees with the digit-by-digit definition."""
    import random

    rng = random.Random(11643)
    raw: list[str | None] = []
    for _ in range(400):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        raw.append(body + check_char(body))
        raw.append(body + rng.choice("0123456789X"))
        raw.append(body[:6] + body[8:])
    assert _engine(raw) == [normalize_id(r) for r in raw]
