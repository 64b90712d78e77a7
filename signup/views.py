"""Public signup URLs: the form's POST and the confirmation link.

No cookie and no CSRF token, like the opt-out pages: a forged cross-site POST can do no more
than anyone typing into the form (a confirmation mail, capped per address), and nothing is
subscribed until the owner of the address follows the link. Every accepted answer to the
form is the same 303 back to the page, whether the address is new or known, over its cap,
or a bot filled in the honeypot. The link's GET only shows a button (mail scanners open
links); the person's POST confirms. Each client IP is rate limited (config.ratelimit).
"""

from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config.ratelimit import limit_per_client
from suppression.addresses import mask_address
from suppression.models import Channel

from . import double_opt_in, links
from .models import SignupPage


def sent(request, page):
    """303 See Other to the page saying "check your inbox", so a reload never posts again."""
    response = HttpResponseRedirect(page.get_url(request) + "?sent")
    response.status_code = 303
    return response


@csrf_exempt
@limit_per_client
@require_POST
def subscribe(request, page_id):
    page = get_object_or_404(SignupPage.objects.live(), pk=page_id)
    form = page.form(request.POST)
    if form.is_bot():
        return sent(request, page)  # the same answer, and nothing kept or sent
    if request.POST.get("wording") != page.wording_version():
        # Edited since the person opened it: nobody agrees to a wording they were not shown.
        again = page.form(email=request.POST.get("email", ""), first_name=request.POST.get("first_name", ""))
        return page.render_form(request, again, status=409, wording_changed=True)
    if not form.is_valid():
        return page.render_form(request, form, status=400)
    double_opt_in.subscribe(
        page,
        address=form.cleaned_data["email"],
        first_name=form.cleaned_data["first_name"],
        channels=form.cleaned_data["channels"],
        wording=page.wording(),
    )
    return sent(request, page)


@csrf_exempt
@limit_per_client
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    try:
        if request.method == "POST":
            confirmation = double_opt_in.confirm(token)
            channels = [Channel(channel).label for channel in confirmation.channels]
            return render(request, "signup/confirmed.html", {"confirmation": confirmation, "channels": channels})
        pending, person = double_opt_in.open_link(token)
    except links.GoneLink:
        return render(request, "signup/link_refused.html", {"gone": True}, status=410)
    except links.BadLink:
        return render(request, "signup/link_refused.html", status=400)
    context = {"page": pending.page, "address": mask_address(person["address"]), "token": token}
    return render(request, "signup/confirm.html", context)
