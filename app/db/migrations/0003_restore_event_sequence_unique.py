from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """0002 rebuilt contract_events on SQLite (to drop a column) and the rebuild lost the
    unique (contract_id, sequence) index. Put it back; on PostgreSQL it already exists."""

    dependencies = [('models', '0002_requests')]

    initial = False

    operations = [
        ops.RunSQL(
            'CREATE UNIQUE INDEX IF NOT EXISTS "event_sequence_unique" '
            'ON "contract_events" ("contract_id", "sequence")'
        ),
    ]
