from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    """The documents of automatic persisted queries, shared by every server process on the
    database; `app.db.persisted_queries` keeps at most MAX_PERSISTED_QUERIES of them."""

    dependencies = [('models', '0006_idempotency_scope_by_action')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PersistedQuery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha256', fields.CharField(unique=True, max_length=64)),
                ('document', fields.TextField(unique=False)),
            ],
            options={'table': 'persisted_queries', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Documents of automatic persisted queries, by the SHA-256 of their text.'},
            bases=['Model'],
        ),
    ]
