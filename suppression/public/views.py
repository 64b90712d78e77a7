"""Public opt-out pages: unsubscribe, the RFC 8058 one-click POST, the preference centre, undo.

No login, cookie or CSRF token: the signed token in the URL is the only credential (a
forged request needs the token, which is all a CSRF token would prove), and these pages
set no cookies and load nothing from elsewhere. GET never changes anything, because mail
scanners prefetch links; every change is a POST and is logged by suppression.policy.
The token carries the address only as a keyed hash, so the pages show it masked; each
client IP is rate limited (config.ratelimit).
"""

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config.ratelimit import limit_per_client

from .. import policy
from ..models import Channel, Source
from ..tokens import BadToken, read_token

CHOICES = (
    (Channel.EMAIL_MARKETING, "Email offers", "Product and course offers by email."),
    (Channel.POSTAL_MARKETING, "Postal offers", "Catalogues and offers by post."),
    (
        Channel.THIRD_PARTY_SHARING,
        "Sharing with affiliated companies",
        "Passing your name and contact details to our affiliated companies for their offers.",
    ),
)


def with_token(view):
    """Resolve the token to its tokens.LinkHolder or answer 400 with no side effect."""

    def wrapped(request, token):
        try:
            holder = read_token(token)
        except BadToken:
            return render(request, "suppression/invalid_link.html", status=400)
        return view(request, token, holder)

    wrapped.__name__ = view.__name__
    return wrapped


def is_one_click(request):
    """An RFC 8058 one-click POST: what mail providers send for their unsubscribe button."""
    return request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click"


def close_offers(holder, source):
    policy.record_opt_out(
        holder.address,
        Channel.EMAIL_MARKETING,
        source,
        hashed=holder.address_hash,
        actor="the person",
        campaign_id=holder.campaign_id,
    )


@limit_per_client
@with_token
def one_click(request, token, holder):
    """RFC 8058: close email offers; 200, no redirect, nothing for a person to read.

    suppression.public.middleware answers every one-click POST with this, before the session,
    auth and messages middleware, none of which a provider's POST needs.
    """
    close_offers(holder, Source.ONE_CLICK)
    return HttpResponse("You are unsubscribed from email offers.\n", content_type="text/plain")


def back_to_page(token, flag):
    """303 See Other back to the (read-only) page, so a reload never re-posts."""
    response = HttpResponseRedirect(reverse("suppression:unsubscribe", args=[token]) + f"?{flag}")
    response.status_code = 303
    return response


def preference_page(request, token, holder, *, status=200, **extra):
    current = policy.open_channels(holder.address_hash)
    choices = [
        {"channel": channel, "label": label, "help": help_text, "receive": current[channel]}
        for channel, label, help_text in CHOICES
    ]
    # The page says where the person stands: a second visit after unsubscribing must not ask again.
    context = {
        "address": holder.masked,
        "token": token,
        "choices": choices,
        "offers_open": current[Channel.EMAIL_MARKETING],
    }
    context.update(extra)
    return render(request, "suppression/unsubscribe.html", context, status=status)


@csrf_exempt
@limit_per_client
@require_http_methods(["GET", "HEAD", "POST"])
@with_token
def unsubscribe(request, token, holder):
    if request.method != "POST":
        return preference_page(request, token, holder, saved="saved" in request.GET, undone="undone" in request.GET)
    close_offers(holder, Source.LINK)  # the page's button (one-click POSTs: suppression.public.middleware)
    return render(request, "suppression/unsubscribed.html", {"address": holder.masked, "token": token})


@csrf_exempt
@limit_per_client
@require_POST
@with_token
def preferences(request, token, holder):
    wanted = {channel: request.POST.get(channel) == "yes" for channel, _, _ in CHOICES}
    try:
        policy.set_preferences(holder.address_hash, wanted, address=holder.address, campaign_id=holder.campaign_id)
    except policy.PolicyError as error:
        return preference_page(request, token, holder, status=409, error=str(error))
    return back_to_page(token, "saved")


@csrf_exempt
@limit_per_client
@require_POST
@with_token
def undo(request, token, holder):
    """Right after unsubscribing (within policy.UNDO_WINDOW): reopen email offers, logged as an opt-in."""
    try:
        policy.undo_opt_out(holder.address_hash, holder.campaign_id)
    except policy.PolicyError as error:
        return preference_page(request, token, holder, status=409, error=str(error))
    return back_to_page(token, "undone")
