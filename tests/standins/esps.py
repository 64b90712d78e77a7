"""Each ESP's stand-in and the anymail backend and options that point at it, for tests
and benchmarks."""

from .amazon_ses import StandInAmazonSes
from .brevo import StandInBrevo
from .mailgun import StandInMailgun
from .mailjet import StandInMailjet
from .postmark import StandInPostmark
from .resend import StandInResend
from .sendgrid import StandInSendGrid
from .sparkpost import StandInSparkPost


def _ses_options(server):
    return {
        "session_params": {"aws_access_key_id": "stand-in", "aws_secret_access_key": "stand-in"},
        # One attempt: an outage must reach the pipeline, as with every other ESP.
        "client_params": {
            "endpoint_url": server.url.rstrip("/"),
            "region_name": "eu-west-1",
            "config": {"retries": {"total_max_attempts": 1}},
        },
    }


# Who the ESP tests mail: a name that must stay escaped in HTML, one the stand-ins that
# report refusals refuse (its address holds "inactive"), and one opted out after the snapshot.
PEOPLE = [
    ("ada@example.com", "<Ada>"),
    ("grace@example.com", "Grace"),
    ("inactive@example.com", "Ina"),
    ("optout@example.com", "Opt"),
]

# name: (stand-in class, anymail backend, options for a running stand-in)
ESPS = {
    "postmark": (StandInPostmark, "postmark", lambda s: {"api_url": s.api_url, "server_token": "stand-in"}),
    "mailgun": (StandInMailgun, "mailgun", lambda s: {"api_url": s.api_url, "api_key": "stand-in"}),
    "sendgrid": (StandInSendGrid, "sendgrid", lambda s: {"api_url": s.api_url, "api_key": "stand-in"}),
    "sparkpost": (StandInSparkPost, "sparkpost", lambda s: {"api_url": s.api_url, "api_key": "stand-in"}),
    "brevo": (StandInBrevo, "brevo", lambda s: {"api_url": s.api_url, "api_key": "stand-in"}),
    "mailjet": (
        StandInMailjet,
        "mailjet",
        lambda s: {"api_url": s.api_url, "api_key": "stand-in", "secret_key": "stand-in"},
    ),
    "resend": (StandInResend, "resend", lambda s: {"api_url": s.api_url, "api_key": "stand-in"}),
    "amazon_ses": (StandInAmazonSes, "amazon_ses", _ses_options),
}


def backend_path(name):
    return f"anymail.backends.{ESPS[name][1]}.EmailBackend"


def options(name, server):
    return ESPS[name][2](server)


def start(name, record=True, latency=0):
    return ESPS[name][0](record=record, latency=latency).start()
