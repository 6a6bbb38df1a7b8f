from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    """Sessions (the tokens of login and register) expire: `api_tokens.expires_at`, null for
    API tokens, which last until revoked. A nullable column is added in place on SQLite too, so
    no table is rebuilt and no index is lost."""

    dependencies = [('models', '0004_restore_rebuilt_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
