# The EndpointError model moved to the exchange app (exchange/migrations/0001_initial.py creates it
# there). State only: its table, audience_endpointerror, and its rows stay where they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audience', '0003_screen_visits_in_redis'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='EndpointError')],
            database_operations=[],
        ),
    ]
