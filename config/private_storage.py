"""A file storage no URL serves: uploaded customer lists and import reports.

Its folder (MAILROOM_PRIVATE_DIR) lies outside MEDIA_ROOT, so neither Django's dev media
serving nor a web server's /media/ alias reaches it, and asking a file for its URL is an
error. Admins download these files through admin views that check permissions.
"""

from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    def url(self, name):
        raise ValueError(f"{name}: private files have no URL; serve them through a view that checks permissions.")
