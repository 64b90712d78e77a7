"""Answers the RFC 8058 one-click POST before the rest of the middleware runs.

Mail providers send these in bursts after every campaign, without cookies; the session,
CSRF, auth and messages middleware would only set up what the answer never reads. Placed
right after SecurityMiddleware (HTTPS redirect and headers still apply); every other
request, and a POST to the page without the one-click body, goes on as usual.
"""

from django.urls import resolve

from .views import is_one_click, one_click

PREFIX = "/u/"  # suppression.public.urls: u/<token>/


class OneClickMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(PREFIX) and is_one_click(request):
            match = resolve(request.path_info)
            if match.view_name == "suppression:unsubscribe":
                return one_click(request, **match.kwargs)
        return self.get_response(request)
