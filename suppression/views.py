"""Public opt-out endpoints: the unsubscribe page and the RFC 8058 one-click POST.

No login, cookie or CSRF token: the signed token is the only credential. GET never
changes anything, because mail scanners prefetch links.
"""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import policy
from .models import Channel, Source
from .tokens import BadToken, read_token


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    try:
        address, campaign_id = read_token(token)
    except BadToken:
        return render(request, "suppression/invalid_link.html", status=400)
    if request.method != "POST":
        return render(request, "suppression/unsubscribe.html", {"address": address})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    policy.record_opt_out(
        address,
        Channel.EMAIL_MARKETING,
        Source.ONE_CLICK if one_click else Source.LINK,
        actor="the person",
        campaign_id=campaign_id,
    )
    if one_click:
        return HttpResponse("You are unsubscribed from email offers.\n", content_type="text/plain")
    return render(request, "suppression/unsubscribed.html", {"address": address})
