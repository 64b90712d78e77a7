"""Refuses a request body larger than any upload Mailroom takes, before any of it is stored.

Django streams file uploads to disk as they arrive, so a size check on the finished file
(campaigns.audiences.tables.check_upload) comes after the whole body was written. This
handler runs first: when the body's declared length passes MAILROOM_IMPORT_MAX_BYTES (plus
room for the form's other fields) the upload stops, the rest is read and thrown away, and
the request carries `upload_refused` (the declared size) for the view to explain.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

FORM_FIELDS_ALLOWANCE = 64 * 1024


class RefuseOversizedUploads(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_large = content_length > settings.MAILROOM_IMPORT_MAX_BYTES + FORM_FIELDS_ALLOWANCE
        if self.too_large:
            self.request.upload_refused = content_length

    def new_file(self, *args, **kwargs):
        if self.too_large:
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None
