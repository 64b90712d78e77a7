"""Who may do what in the admin, by permission (never by group name; README: Roles)."""

from django.core.exceptions import PermissionDenied
from wagtail.admin.menu import MenuItem

IMPORT = "campaigns.add_importjob"
EXPORT = "campaigns.export_contacts"
SEND_TEST = "campaigns.send_test_email"


class PermissionRequiredMixin:
    """Refuse the view (403) unless the user has `permission`."""

    permission = IMPORT

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def menu_item_for(permission):
    """A MenuItem class shown only to users with `permission`."""

    class PermissionMenuItem(MenuItem):
        def is_shown(self, request):
            return request.user.has_perm(permission)

    return PermissionMenuItem
