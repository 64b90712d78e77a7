import campaigns.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0013_grant_new_permissions_by_permission'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='headers',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='importjob',
            name='preview',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='error_report',
            field=models.FileField(blank=True, storage=campaigns.models.private_storage, upload_to='imports/reports/'),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='file',
            field=models.FileField(storage=campaigns.models.private_storage, upload_to='imports/%Y/%m/'),
        ),
        migrations.AlterField(
            model_name='importjob',
            name='status',
            field=models.CharField(choices=[('reading', 'Reading the first rows'), ('mapping', 'Waiting for column mapping'), ('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='reading', max_length=16),
        ),
    ]
