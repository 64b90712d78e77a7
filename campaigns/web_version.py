"""A campaign's "view in browser" web version: the email as frozen for the campaign (or its
page's published version as it would be frozen now, before sending starts), with merge
fields at their fallbacks so no one's data is on a public page. The address is signed so
campaigns cannot be enumerated.
"""

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from cms.rendering import freeze, web_version_html
from config.ratelimit import limit_per_client

from .models import Campaign

_SIGNER = signing.Signer(salt="mailroom.web-version.v1")


def web_version_url(campaign):
    return settings.MAILROOM_BASE_URL + reverse("campaigns:web_version", args=[_SIGNER.sign(str(campaign.pk))])


@limit_per_client
@require_GET
def web_version(request, token):
    try:
        campaign_id = int(_SIGNER.unsign(token))
    except (signing.BadSignature, ValueError) as error:
        raise Http404("No such email.") from error
    campaign = Campaign.objects.select_related("page").filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("No such email.")
    if campaign.frozen_html:
        frozen = campaign.frozen()
    elif published := campaign.page.specific.published_version():
        frozen = freeze(published)
    else:
        raise Http404("No such email.")
    response = HttpResponse(web_version_html(frozen))
    response["X-Robots-Tag"] = "noindex"
    return response
