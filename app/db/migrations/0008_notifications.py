from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint


class Migration(migrations.Migration):
    """Issue 11's tables: notifications (with their e-mail outbox columns), each person's
    e-mail choice per type, partners' webhook endpoints and their delivery attempts, and the
    keys of the reminders sent."""

    dependencies = [('models', '0007_persisted_queries')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recipient', fields.ForeignKeyField('models.User', source_field='recipient_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharField(max_length=40)),
                ('title', fields.TextField(unique=False)),
                ('body', fields.TextField(unique=False)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('milestone', fields.ForeignKeyField('models.Milestone', source_field='milestone_id', null=True, db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('email_due_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('email_claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('email_attempts', fields.IntField(default=0)),
                ('emailed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('email_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'notifications', 'app': 'models', 'indexes': [Index(fields=['recipient_id', 'id'])], 'pk_attr': 'id', 'table_description': 'What a person is told, in-app, with the outbox columns of its e-mail.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationSetting',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notification_settings', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharField(max_length=40)),
                ('email', fields.BooleanField()),
            ],
            options={'table': 'notification_settings', 'app': 'models', 'constraints': [UniqueConstraint(fields=('user_id', 'type'), name='notification_setting_unique')], 'pk_attr': 'id', 'table_description': "A person's choice of e-mail for one notification type (no row: e-mail on)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SentReminder',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sent_reminders', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A reminder sent, by its key (kind, milestone, deadline, offset): sent exactly once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='webhook_endpoints', on_delete=OnDelete.CASCADE)),
                ('url', fields.TextField(unique=False)),
                ('event_types', fields.TextField(unique=False)),
                ('description', fields.TextField(unique=False)),
                ('secret', fields.CharField(max_length=100)),
                ('enabled', fields.BooleanField(default=True)),
                ('failing_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'webhook_endpoints', 'app': 'models', 'indexes': [Index(fields=['owner_id', 'id'])], 'pk_attr': 'id', 'table_description': "A partner's URL that receives the events of its owner's contracts."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('endpoint', fields.ForeignKeyField('models.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('contract_id', fields.IntField(null=True)),
                ('sequence', fields.IntField(null=True)),
                ('event_type', fields.CharField(max_length=40)),
                ('message_id', fields.CharField(max_length=100)),
                ('attempt', fields.IntField()),
                ('first_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status_code', fields.IntField(null=True)),
                ('duration_ms', fields.IntField(null=True)),
                ('response_excerpt', fields.TextField(null=True, unique=False)),
                ('next_retry_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_deliveries', 'app': 'models', 'indexes': [Index(fields=['endpoint_id', 'id']), Index(fields=['attempted_at', 'due_at'])], 'pk_attr': 'id', 'table_description': 'One attempt to deliver one message to a webhook endpoint.'},
            bases=['Model'],
        ),
    ]
