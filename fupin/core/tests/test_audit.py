"""The audit trail (DESIGN.md "Audit"): append-only and hash-chained; `fupin audit verify`
says where the chain breaks."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from fupin.core import audit
from fupin.core.models import AuditEntry


def _entries(n):
    for i in range(n):
        audit.record(
            user=None,
            action="test.step",
            object_type="t",
            object_id=str(i),
            after={"i": i, "amount": "1.50"},
            reason=f"step {i}",
        )


@pytest.mark.django_db
def test_verify_passes_on_an_intact_chain():
    _entries(5)
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "5" in out.getvalue()


@pytest.mark.django_db
def test_updates_and_deletes_are_refused_by_the_database():
    _entries(2)
    first = AuditEntry.objects.order_by("id").first()
    with pytest.raises(RuntimeError):
        first.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=first.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=first.pk).delete()


def _drop_guard():
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER core_auditentry_no_update")
            cur.execute("DROP TRIGGER core_auditentry_no_delete")
        else:
            cur.execute("DROP TRIGGER core_auditentry_append_only ON core_auditentry")


# DDL is transactional on SQLite and PostgreSQL: the test's rollback restores the triggers.


@pytest.mark.django_db
def test_tampering_is_found_and_located():
    """Someone with database access bypasses the triggers: verify names the entry."""
    _entries(4)
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    _drop_guard()
    AuditEntry.objects.filter(pk=ids[2]).update(reason="nothing happened here")
    with translation.override("en"), pytest.raises(CommandError) as exc:
        call_command("audit", "verify", stdout=StringIO())
    assert f"entry {ids[2]} " in str(exc.value)


@pytest.mark.django_db
def test_removing_an_entry_is_found():
    _entries(4)
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    _drop_guard()
    AuditEntry.objects.filter(pk=ids[1]).delete()
    breaks = [s for s in audit.verify() if isinstance(s, audit.ChainBreak)]
    assert breaks == [audit.ChainBreak(ids[2], "prev_hash")]
    AuditEntry.objects.filter(pk=ids[3]).delete()  # and the tail
    AuditEntry.objects.filter(pk=ids[2]).delete()
    breaks = [s for s in audit.verify() if isinstance(s, audit.ChainBreak)]
    assert breaks == [audit.ChainBreak(ids[3], "missing")]
