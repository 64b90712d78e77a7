from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0011_contact_address_check'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='campaign',
            options={'ordering': ['-created_at'], 'permissions': [('send_test_email', 'Can send test emails of an email page')]},
        ),
    ]
