from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChangeRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='change_requests', on_delete=OnDelete.CASCADE)),
                ('proposed_by', fields.ForeignKeyField('models.User', source_field='proposed_by_id', db_constraint=True, to_field='id', related_name='change_requests', on_delete=OnDelete.RESTRICT)),
                ('message', fields.TextField(unique=False)),
                ('changes', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(max_length=16)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'change_requests', 'app': 'models', 'indexes': [Index(fields=['contract_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Dispute',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.CASCADE)),
                ('milestone', fields.ForeignKeyField('models.Milestone', source_field='milestone_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.CASCADE)),
                ('opened_by', fields.ForeignKeyField('models.User', source_field='opened_by_id', db_constraint=True, to_field='id', related_name='disputes_opened', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.TextField(unique=False)),
                ('status', fields.CharField(max_length=16)),
                ('previous_status', fields.CharField(max_length=20)),
                ('freelancer_amount', fields.BigIntField(null=True)),
                ('client_amount', fields.BigIntField(null=True)),
                ('note', fields.TextField(null=True, unique=False)),
                ('resolved_by', fields.ForeignKeyField('models.User', source_field='resolved_by_id', null=True, db_constraint=True, to_field='id', related_name='disputes_resolved', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'disputes', 'app': 'models', 'indexes': [Index(fields=['contract_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefundRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('models.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='refund_requests', on_delete=OnDelete.CASCADE)),
                ('milestone', fields.ForeignKeyField('models.Milestone', source_field='milestone_id', db_constraint=True, to_field='id', related_name='refund_requests', on_delete=OnDelete.CASCADE)),
                ('amount', fields.BigIntField()),
                ('reason', fields.TextField(unique=False)),
                ('status', fields.CharField(max_length=16)),
                ('respond_by', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('response', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refund_requests', 'app': 'models', 'indexes': [Index(fields=['status', 'respond_by']), Index(fields=['contract_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RemoveField(model_name='ContractEvent', name='change_request_id'),
        ops.AddField(
            model_name='ContractEvent',
            name='change_request',
            field=fields.ForeignKeyField('models.ChangeRequest', source_field='change_request_id', null=True, db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Milestone',
            name='review_seconds_left',
            field=fields.IntField(null=True),
        ),
    ]
