from tortoise import migrations
from tortoise.migrations import operations as ops

# The mutation names idempotency keys were scoped by, and the domain action (the value of
# `app.domain.permissions.Action`, written out as it was when this ran) that scopes them now.
RENAMED = {
    'payBonus': 'pay a bonus',
    'fundMilestone': 'fund a milestone',
    'releaseMilestone': 'release payment',
    'resolveDispute': 'resolve a dispute',
}


def _rename(old: str, new: str) -> str:
    return f"UPDATE \"idempotency_keys\" SET \"mutation\" = '{new}' WHERE \"mutation\" = '{old}'"


class Migration(migrations.Migration):
    """Idempotency keys are scoped by the domain action the request takes (`Action.PAY_BONUS`,
    `FUND`, `RELEASE`, `RESOLVE_DISPUTE`) rather than by the GraphQL mutation's name, and a
    request's hash is now taken over its command (amounts in integer cents), not over the
    input's text. The stored scopes are renamed, so a key sent before the upgrade still finds
    its row: a retry across the upgrade can never run a payment twice. As the hash format
    changed, such a retry is answered IDEMPOTENCY_KEY_REUSED (its stored outcome is not
    replayed); a retry with a fresh key, or a key first used after the upgrade, works as ever.
    """

    dependencies = [('models', '0005_session_expiry')]

    initial = False

    operations = [
        ops.RunSQL(
            [_rename(old, new) for old, new in RENAMED.items()],
            reverse_sql=[_rename(new, old) for old, new in RENAMED.items()],
        ),
    ]
