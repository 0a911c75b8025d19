"""Helpers for tests: well-formed people without hand-computing check digits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fupin.core.validators import build_resident_id

_seq = iter(range(1, 10**6))


def person(
    relation: str = "01",
    *,
    name: str = "张三",
    born: dt.date = dt.date(1970, 5, 1),
    male: bool = True,
    area: str = "450102",
    **extra: Any,
) -> dict[str, Any]:
    n = next(_seq) * 2 % 1000
    seq = n + 1 if male else n
    return {
        "name": name,
        "id_number": build_resident_id(area, born, seq),
        "relation": relation,
        "education": "primary",
        "labour_skill": "ordinary",
        **extra,
    }
