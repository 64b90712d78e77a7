"""Wagtail admin: the catalogue (products and courses) as snippet viewsets, and the icons
the email blocks use that Wagtail does not ship."""

import django_filters
from wagtail import hooks
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, UpdatedAtColumn
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from .models import Course, CourseSession, Product


class ProductViewSet(SnippetViewSet):
    model = Product
    icon = "tag"
    menu_label = "Products"
    list_display = ["name", Column("price", label="Price"), "currency", UpdatedAtColumn()]
    list_filter = ["live", "currency"]
    ordering = ["name"]


class CourseFilterSet(WagtailFilterSet):
    mode = django_filters.ChoiceFilter(
        label="Has sessions", field_name="sessions__mode", choices=CourseSession.Mode.choices, distinct=True
    )

    class Meta:
        model = Course
        fields = ["live"]


class CourseViewSet(SnippetViewSet):
    model = Course
    icon = "calendar-alt"
    menu_label = "Courses"
    list_display = [
        "title",
        Column("next_session", label="Next session", accessor="next_session_label"),
        Column("price", label="Price"),
        UpdatedAtColumn(),
    ]
    filterset_class = CourseFilterSet
    ordering = ["title"]


class CatalogueGroup(SnippetViewSetGroup):
    items = (ProductViewSet, CourseViewSet)
    menu_icon = "folder-open-inverse"
    menu_label = "Catalogue"
    menu_name = "catalogue"
    menu_order = 150


register_snippet(CatalogueGroup)


@hooks.register("register_icons")
def register_icons(icons):
    return icons + ["cms/icons/arrows-up-down.svg"]
