"""Wagtail admin for imports: upload → column mapping with preview → dry run / import → progress.

The upload request checks the file's type and size only; workers read it (the preview,
then the import). Files live in private storage and reach Admins only through these views.
"""

from django import forms
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import FormView, TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet
from wagtail.admin.widgets import HeaderButton

from campaigns.audiences import import_jobs
from campaigns.audiences.tables import ImportFileError, auto_mapping, check_upload, too_large
from campaigns.models import Audience, ImportJob
from campaigns.tasks import inspect_import, queue_import
from suppression.models import Channel

from .permissions import IMPORT, PermissionRequiredMixin, menu_item_for

NEW_AUDIENCE = "new"


class UploadForm(forms.Form):
    """What to import and where: an audience for contacts, a channel for a suppression list.
    The template shows each kind's fields only when that kind is chosen (Wagtail's w-rules)."""

    file = forms.FileField(help_text="CSV, TSV or text (any common delimiter; UTF-8, UTF-16 or Windows-1252) or XLSX.")
    kind = forms.ChoiceField(
        label="Import", choices=ImportJob.Kind.choices, initial=ImportJob.Kind.CONTACTS, widget=forms.RadioSelect
    )
    audience = forms.ChoiceField(label="Audience", required=False, help_text="The contacts join this audience.")
    new_audience = forms.CharField(label="Name of the new audience", required=False, max_length=255)
    update_existing = forms.BooleanField(
        required=False, help_text="Update contacts that already exist (blank cells never overwrite)."
    )
    channel = forms.ChoiceField(
        label="Close channel",
        required=False,
        choices=Channel.choices,
        initial=Channel.EMAIL_MARKETING,
        help_text="What these addresses must never receive.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        existing = [(str(pk), name) for pk, name in Audience.objects.order_by("name").values_list("pk", "name")]
        self.fields["audience"].choices = [("", "Choose an audience")] + existing + [(NEW_AUDIENCE, "+ New audience…")]
        self.fields["audience"].initial = "" if existing else NEW_AUDIENCE

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            check_upload(upload, upload.name)
        except ImportFileError as error:
            raise forms.ValidationError(str(error)) from error
        return upload

    def clean(self):
        data = super().clean()
        data["audience_name"] = ""
        if data.get("kind") == ImportJob.Kind.SUPPRESSIONS:
            if not data.get("channel"):
                self.add_error("channel", "Choose what these addresses must never receive.")
        elif data.get("audience") == NEW_AUDIENCE:
            data["audience_name"] = data.get("new_audience", "").strip()
            if not data["audience_name"]:
                self.add_error("new_audience", "Name the new audience.")
        elif data.get("audience"):
            data["audience_name"] = Audience.objects.get(pk=data["audience"]).name
        else:
            self.add_error("audience", "Choose the audience the contacts join, or create a new one.")
        return data


class ImportAdminView(PermissionRequiredMixin, WagtailAdminTemplateMixin):
    permission = IMPORT
    header_icon = "upload"
    step = ""  # the last breadcrumb, after the file's name

    def job(self):
        return get_object_or_404(ImportJob, pk=self.kwargs["pk"])

    def get_breadcrumbs_items(self):
        """Home › Imports › (the file) › this step: the header names the step, not "Home"."""
        items = [*self.breadcrumbs_items, {"url": reverse("imports:index"), "label": "Imports"}]
        if "pk" in self.kwargs:
            job = self.job()
            items.append({"url": reverse("imports:job", args=[job.pk]), "label": job.original_name})
        if self.step:
            items.append({"url": "", "label": self.step})
        return items


class ImportIndexView(ImportAdminView, TemplateView):
    template_name = "campaigns/admin/import_index.html"
    page_title = "Imports"

    @cached_property
    def header_buttons(self):
        return [HeaderButton("New import", url=reverse("imports:upload"), icon_name="plus")]

    def get_context_data(self, **kwargs):
        return super().get_context_data(jobs=ImportJob.objects.select_related("created_by")[:50], **kwargs)


class UploadView(ImportAdminView, FormView):
    template_name = "campaigns/admin/import_upload.html"
    page_title = step = "New import"
    form_class = UploadForm

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        refused = getattr(self.request, "upload_refused", None)
        if refused:  # the body was too large to read: the file never arrived
            form.fields["file"].error_messages["required"] = too_large(refused)
        return form

    def form_valid(self, form):
        data = form.cleaned_data
        job = ImportJob.objects.create(
            kind=data["kind"],
            file=data["file"],
            original_name=data["file"].name,
            audience_name=data["audience_name"] if data["kind"] == ImportJob.Kind.CONTACTS else "",
            update_existing=data["update_existing"] and data["kind"] == ImportJob.Kind.CONTACTS,
            channel=data["channel"] if data["kind"] == ImportJob.Kind.SUPPRESSIONS else "",
            created_by=self.request.user,
        )
        inspect_import.delay(job.pk)
        return redirect("imports:mapping", pk=job.pk)


class MappingView(ImportAdminView, TemplateView):
    """Automatic matches preselected, a preview of the first rows, then dry run or import.
    Until a worker has read the first rows the page waits for it."""

    template_name = "campaigns/admin/import_mapping.html"
    page_title = step = "Map columns"

    def job(self):
        job = super().job()
        if not job.file and job.status != ImportJob.Status.FAILED:
            raise Http404("This file was imported and is no longer kept; upload it again to re-import.")
        return job

    def get_context_data(self, error="", **kwargs):
        job = self.job()
        chosen = {int(index): field for index, field in job.mapping.items()} or auto_mapping(job.headers)
        columns = [
            {
                "index": index,
                "header": header,
                "choice": "attribute" if chosen.get(index, "").startswith("attribute:") else chosen.get(index, ""),
                "samples": [row[index] if index < len(row) else "" for row in job.preview],
            }
            for index, header in enumerate(job.headers)
        ]
        return super().get_context_data(
            job=job,
            reading=job.status == ImportJob.Status.READING,
            progress_url=reverse("imports:progress", args=[job.pk]),
            columns=columns,
            choices=import_jobs.FIELD_CHOICES,
            total=job.total_rows,
            error=error,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        job = self.job()
        if not job.headers:
            return redirect("imports:mapping", pk=job.pk)
        choices = {index: request.POST.get(f"column_{index}", "") for index in range(len(job.headers))}
        try:
            job.mapping = import_jobs.mapping_from_choices(job.headers, choices)
        except ImportFileError as error:
            return self.render_to_response(self.get_context_data(error=str(error)))
        job.save(update_fields=["mapping"])
        queue_import(job, dry_run="dry_run" in request.POST)
        return redirect("imports:job", pk=job.pk)


class JobView(ImportAdminView, TemplateView):
    template_name = "campaigns/admin/import_job.html"
    page_title = "Import"

    def get_context_data(self, **kwargs):
        job = self.job()
        return super().get_context_data(job=job, progress=import_jobs.progress_of(job), **kwargs)


class ProgressView(ImportAdminView, View):
    def get(self, request, pk):
        return JsonResponse(import_jobs.progress_of(self.job()))


class ReportView(ImportAdminView, View):
    """The CSV of rejected rows (line number and reason)."""

    def get(self, request, pk):
        job = self.job()
        if not job.error_report:
            raise Http404("This import rejected no rows, or its report is no longer kept.")
        return FileResponse(
            job.error_report.open("rb"),
            as_attachment=True,
            filename=f"{job.original_name.rsplit('.', 1)[0]}-rejected-rows.csv",
        )


class FileView(ImportAdminView, View):
    """The uploaded file itself, while it is kept (private storage has no URL)."""

    def get(self, request, pk):
        job = self.job()
        if not job.file:
            raise Http404("This file is no longer kept.")
        return FileResponse(
            job.file.open("rb"), as_attachment=True, filename=job.original_name, content_type="application/octet-stream"
        )


class ImportViewSet(ViewSet):
    name = "imports"
    icon = "upload"
    menu_label = "Imports"
    menu_order = 230
    add_to_admin_menu = True

    @cached_property
    def menu_item_class(self):
        return menu_item_for(IMPORT)

    def get_urlpatterns(self):
        return [
            path("", ImportIndexView.as_view(), name="index"),
            path("new/", UploadView.as_view(), name="upload"),
            path("<int:pk>/map/", MappingView.as_view(), name="mapping"),
            path("<int:pk>/", JobView.as_view(), name="job"),
            path("<int:pk>/progress/", ProgressView.as_view(), name="progress"),
            path("<int:pk>/rejected.csv", ReportView.as_view(), name="report"),
            path("<int:pk>/file/", FileView.as_view(), name="file"),
        ]
