"""Email content models: the offer email page, the catalogue snippets and the sender
settings. Django loads an app's models from this package; each lives in its own module."""

from .catalogue import Course, CourseSession, Product
from .pages import EmailPage
from .sender import SenderSettings

__all__ = ["Course", "CourseSession", "EmailPage", "Product", "SenderSettings"]
