from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """0001's CHECK constraints rebuilt milestones and ledger_entries on SQLite, and the rebuild
    lost their indexes. Put them back under the names Tortoise gives them; on PostgreSQL they
    already exist."""

    dependencies = [('models', '0003_restore_event_sequence_unique')]

    initial = False

    operations = [
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS "idx_milestones_auto_re_809f1f" '
                'ON "milestones" ("auto_release_at")',
                'CREATE INDEX IF NOT EXISTS "idx_milestones_contrac_26879f" '
                'ON "milestones" ("contract_id", "position")',
                'CREATE INDEX IF NOT EXISTS "idx_ledger_entr_contrac_48ddb5" '
                'ON "ledger_entries" ("contract_id", "id")',
            ]
        ),
    ]
