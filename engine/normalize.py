"""Normalising resident ID numbers and names before they are compared (issue 5 item 2).

IDs are normalised by an Ibis expression, so the engine does it over millions of rows
(DuckDB or Spark, the same SQL functions on both): full-width digits and X, lower-case x,
spaces and hyphens removed, 15-digit IDs of the first generation upgraded to 18 (GB 11643:
"19" inserted before the two-digit year, the MOD 11-2 check character computed), and the
check character of every 18-character ID validated (`id_valid`).

Names have no engine function for NFKC, traditional → simplified or pinyin, so they are
normalised in Python once per UNIQUE name and joined back as a table (`name_keys`). The
per-character tables come from OpenCC's dictionaries (opencc-python-reimplemented: the
OpenCC project's curated t2s data, pure Python, no native build) and pypinyin; a name is
converted character by character, because OpenCC's phrase rules are made for running text
and may rewrite a character of a given name for the sake of a word it happens to form.
This module never imports Django.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache

import ibis
import ibis.expr.types as ir
import pyarrow as pa

#: GB 11643 weights of the 17 body digits, and the check character by remainder mod 11.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

_FULL_WIDTH = "０１２３４５６７８９Ｘｘ"
_HALF_WIDTH = "0123456789XX"
# Separators seen in typed IDs: spaces (ASCII, ideographic), hyphens (ASCII, full-width).
_ID_SEPARATORS = "[\\s\u3000\\-\uff0d]"
#: Characters a name loses: spaces and the middle dots that separate the parts of a
#: transcribed name (买买提·艾力): U+00B7, U+2022, U+30FB, U+2027, U+FF65, U+FF0E, ".".
NAME_SEPARATORS = " \t\u3000\u00b7\u2022\u30fb\u2027\uff65\uff0e."
_NAME_SEPARATORS_RE = "[\\s\u3000\u00b7\u2022\u30fb\u2027\uff65\uff0e.]"


def clean_id(raw: ir.StringValue) -> ir.StringValue:
    """Full-width → ASCII, lower-case x → X, separators removed (no upgrade yet)."""
    return raw.translate(_FULL_WIDTH, _HALF_WIDTH).re_replace(_ID_SEPARATORS, "").upper()


_SHAPE18 = "^[0-9]{17}[0-9X]$"
#: The 17-digit body read as three integers (start, digits), each small enough that the
#: weighted sums of `_check_char` stay far inside int64 on every engine.
_CHUNKS = ((0, 6), (6, 6), (12, 5))


def _chunk_coefficients(start: int, n: int) -> dict[int, int]:
    """Coefficients c_j with sum(c_j * (chunk mod 10^j)) ≡ this chunk's share of the MOD
    11-2 sum (mod 11).

    Casting 17 one-digit substrings was most of the time spent normalising 50M IDs; three
    casts and integer arithmetic are cheap. A digit worth 10^k is (m_(k+1) - m_k) / 10^k,
    with m_j = chunk mod 10^j, and 10^-k ≡ (-1)^k (mod 11) because 10 ≡ -1; collecting the
    terms by m_j gives these coefficients (all taken mod 11, so the sum is never negative).
    """
    signed = {
        n - 1 - (i - start): WEIGHTS[i] * (-1) ** (n - 1 - (i - start))
        for i in range(start, start + n)
    }
    signed[n] = 0
    return {j: (signed[j - 1] - signed[j]) % 11 for j in range(1, n + 1)}


def _check_char(chunks: list[ir.IntegerValue]) -> ir.StringValue:
    """The MOD 11-2 check character of a 17-digit body given as its `_CHUNKS` integers."""
    total: ir.IntegerValue = ibis.literal(0, type="int64")
    for chunk, (start, n) in zip(chunks, _CHUNKS, strict=True):
        for j, c in _chunk_coefficients(start, n).items():
            total = total + (chunk if j == n else chunk % 10**j) * c
    return ibis.literal(CHECK).substr(total % 11, 1)


def _chunks(body17: ir.StringValue) -> list[ir.IntegerValue]:
    return [body17.substr(start, n).cast("int64") for start, n in _CHUNKS]


def with_ids(t: ir.Table, column: str = "id_number") -> ir.Table:
    """`t` with `id_norm` (the normalised ID), `id_valid` (18 characters, right check digit)
    and the parts of a normalised ID a typo leaves intact: `area` (issuing area, 6 digits),
    `birth` (8 digits), `sex` (parity of the 17th digit, 1 man, 0 woman) — null where the ID
    is not 18 characters of digits (and X).

    An ID that is neither 15 nor 18 characters after cleaning is kept as cleaned and is not
    valid; a 15-digit one is upgraded (its birth year 19yy: they were issued until 2004 to
    people born in the 1900s).

    Built in steps, each referring to the previous step's columns: written as one nested
    expression, every reference repeats the whole expression below it (the check digit
    alone reads its body 17 times) and the SQL grew to ~700 kB, which took most of a
    minute to compile before any row was read.
    """
    raw = t[column]
    # Most IDs are typed clean: the regex is cheaper than translate + replace + upper.
    ok = raw.re_search(_SHAPE18).fill_null(False)
    s = t.mutate(_clean=ibis.ifelse(ok, raw, clean_id(raw)), _ok=ok)
    # CASE, not AND/OR: both engines evaluate a branch only on the rows that take it.
    s = s.mutate(
        _is15=ibis.ifelse(s._ok, False, s._clean.re_search("^[0-9]{15}$").fill_null(False)),
        _shape18=ibis.ifelse(s._ok, True, s._clean.re_search(_SHAPE18).fill_null(False)),
    )
    # Well-shaped bodies, or zeros, so the digit casts never see a letter on any engine.
    zeros = "00000000000000000"
    s = s.mutate(
        _body15=ibis.ifelse(s._is15, s._clean.substr(0, 6) + "19" + s._clean.substr(6, 9), zeros),
        _body18=ibis.ifelse(s._shape18, s._clean.substr(0, 17), zeros),
    )
    # Columns of their own: inlined, each chunk's cast would be repeated per digit.
    s = s.mutate(**{f"_chunk{i}": c for i, c in enumerate(_chunks(s._body18))})
    chunks18 = [s[f"_chunk{i}"] for i in range(len(_CHUNKS))]
    # The check digit only where it is needed: an upgraded 15-digit ID's (a CASE branch,
    # evaluated on those rows only), and `id_valid` — which the exact join never reads,
    # so the engine prunes the arithmetic for the tens of millions of records there.
    s = s.mutate(
        id_norm=ibis.ifelse(s._is15, s._body15 + _check_char(_chunks(s._body15)), s._clean),
        id_valid=ibis.ifelse(
            s._is15,
            True,
            ibis.ifelse(s._shape18, s._clean.substr(17, 1) == _check_char(chunks18), False),
        ),
        _shaped=s._is15 | s._shape18,
    )
    s = s.mutate(
        area=ibis.ifelse(s._shaped, s.id_norm.substr(0, 6), ibis.null("string")),
        birth=ibis.ifelse(s._shaped, s.id_norm.substr(6, 8), ibis.null("string")),
        sex=ibis.ifelse(
            s._shaped,
            ibis.ifelse(s.id_norm.substr(16, 1).isin(["1", "3", "5", "7", "9"]), "1", "0"),
            ibis.null("string"),
        ),
    )
    return s.drop(
        "_clean",
        "_ok",
        "_is15",
        "_shape18",
        "_body15",
        "_body18",
        *(f"_chunk{i}" for i in range(len(_CHUNKS))),
        "_shaped",
    )


def squeeze_name(name: ir.StringValue) -> ir.StringValue:
    """A name without spaces and middle dots, in SQL: enough to compare most names."""
    return name.re_replace(_NAME_SEPARATORS_RE, "")


# --- names, per unique value -------------------------------------------------------------


@cache
def _t2s() -> object:
    from opencc import OpenCC

    return OpenCC("t2s")


@cache
def _char_keys(char: str) -> tuple[str, str]:
    """A character's simplified form and its toneless pinyin (the character itself, lower
    case, when it is not Chinese)."""
    from pypinyin import Style, lazy_pinyin

    simple = _t2s().convert(char)  # type: ignore[attr-defined]
    if len(simple) != 1:
        simple = char
    spelled = lazy_pinyin(simple, style=Style.NORMAL, errors=lambda s: s.lower())
    return simple, "".join(spelled).lower()


def normalize_name(name: str | None) -> str:
    """NFKC, separators removed, traditional characters simplified."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(c for c in text if c not in NAME_SEPARATORS and not c.isspace())
    return "".join(_char_keys(c)[0] for c in text)


def name_pinyin(normalized: str) -> str:
    """Toneless pinyin of a normalised name, syllables run together (zhangwei)."""
    return "".join(_char_keys(c)[1] for c in normalized)


def name_keys(names: Iterable[str | None]) -> pa.Table:
    """One row per unique name: `name`, `name_norm`, `name_pinyin` — the mapping joined back
    onto people and records by `name`."""
    unique = sorted({n for n in names if n is not None})
    norm = [normalize_name(n) for n in unique]
    return pa.table(
        {
            "name": pa.array(unique, pa.string()),
            "name_norm": pa.array(norm, pa.string()),
            "name_pinyin": pa.array([name_pinyin(n) for n in norm], pa.string()),
        }
    )


# --- the same rules in plain Python, for the small sets and for tests ---------------------


def normalize_id(raw: str | None) -> tuple[str, bool]:
    """(normalised ID, valid) exactly as `with_ids` computes them."""
    if raw is None:
        return "", False
    text = raw.translate(str.maketrans(_FULL_WIDTH, _HALF_WIDTH))
    text = "".join(c for c in text if not c.isspace() and c not in "-\uff0d").upper()
    if len(text) == 15 and text.isdigit():
        body = text[:6] + "19" + text[6:]
        return body + check_char(body), True
    if len(text) == 18 and text[:17].isdigit() and text[17] in "0123456789X":
        return text, text[17] == check_char(text[:17])
    return text, False


def check_char(body17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True)) % 11]
