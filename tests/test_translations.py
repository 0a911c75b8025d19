"""Chinese first (DESIGN.md "Chinese first: the interface is zh-Hans; English is a complete
translation"): every string the code marks for translation has a zh-Hans translation, and
the compiled catalogue the server reads matches the source catalogue.

The msgids are English, so English is complete by construction; these tests keep the
Chinese catalogue complete as the code grows.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

FUPIN = Path(__file__).resolve().parents[1] / "fupin"
PO = FUPIN / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _key(e: polib._BaseEntry) -> tuple[str | None, str]:
    return (e.msgctxt, e.msgid)


def test_every_entry_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(PO))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"untranslated: {untranslated[:20]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:20]}"


def test_the_compiled_catalogue_is_current():
    po = {_key(e): (e.msgstr or e.msgstr_plural.get(0)) for e in polib.pofile(str(PO))}
    mo = {_key(e): (e.msgstr or e.msgstr_plural.get(0)) for e in polib.mofile(str(MO))}
    po.pop((None, ""), None)
    mo.pop((None, ""), None)
    assert po == mo, "run `make messages` to recompile the catalogue"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_no_string_in_the_code_is_missing_from_the_catalogue(tmp_path):
    """Extract the strings afresh from a copy of the code and compare with the catalogue."""
    copy = tmp_path / "fupin"
    shutil.copytree(
        FUPIN,
        copy,
        ignore=shutil.ignore_patterns("data", "static", "__pycache__", "*.mo"),
    )
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        # The copy's own settings, so LOCALE_PATHS points into the copy, never at the tree.
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "fupin.settings",
            "PYTHONPATH": str(tmp_path),
            "FUPIN_DATA_DIR": str(tmp_path / "data"),
        },
    )
    fresh = {_key(e) for e in polib.pofile(str(copy / PO.relative_to(FUPIN)))}
    committed = {_key(e) for e in polib.pofile(str(PO))}
    assert len(fresh) > 500, "extraction found too few strings"
    missing = sorted(fresh - committed, key=str)
    assert not missing, f"new strings without a translation (run `make messages`): {missing[:20]}"


@pytest.mark.django_db
def test_pages_speak_chinese_by_default(client, county_user):
    client.force_login(county_user)
    html = client.get("/households/").content.decode()
    assert 'lang="zh-hans"' in html
    assert "户主" in html  # head of household, in the table header
    english = client.get("/households/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Head of household" in english
