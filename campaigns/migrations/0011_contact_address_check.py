import suppression.addresses
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0010_delivery_without_database_foreign_keys'),
    ]

    operations = [
        migrations.AlterField(
            model_name='contact',
            name='email',
            field=models.CharField(max_length=320, validators=[suppression.addresses.validate_address]),
        ),
    ]
