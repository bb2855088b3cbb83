# EndpointError moved here from the audience app (audience/migrations/0004 removes it there). State
# only: the table keeps its name, audience_endpointerror, and its rows; on a new database
# audience/migrations/0001 still creates it.

import django.db.models.deletion
from django.db import migrations, models


def rename_content_type(apps, schema_editor, old='audience', new='exchange'):
    # Permissions and admin history point at the model's content type: carry it over rather than
    # leave a stale one behind and get a second, empty one for the same table.
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model='endpointerror').exists():
        ContentType.objects.using(db).filter(app_label=old, model='endpointerror').update(app_label=new)


def restore_content_type(apps, schema_editor):
    rename_content_type(apps, schema_editor, old='exchange', new='audience')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('audience', '0004_endpointerror_moves_to_exchange'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('flowsadmin', '0004_flow_requires_our_token'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='EndpointError',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('client_error', 'Error reported by WhatsApp'), ('undecryptable', 'Request could not be decrypted'), ('invalid_token', 'Invalid flow token'), ('unknown_action', 'Unknown action'), ('navigation', 'Missing or unknown next screen'), ('customer_refused', 'Customer endpoint address refused'), ('customer_unreachable', 'Customer endpoint unreachable'), ('customer_timeout', 'Customer endpoint timed out'), ('customer_status', 'Customer endpoint answered with an error'), ('customer_invalid', 'Customer endpoint answer unusable')], max_length=20)),
                        ('message', models.TextField()),
                        ('detail', models.JSONField(blank=True, default=dict)),
                        ('at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('flow', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='endpoint_errors', to='flowsadmin.flow')),
                    ],
                    options={
                        'db_table': 'audience_endpointerror',
                        'ordering': ['-at', '-pk'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
