"""Stored templates at the ESPs that send batches only from one (Postmark, Amazon SES):
created or updated once per process per campaign and content, safe against a second
worker doing the same at the same moment."""

import hashlib
import json

import requests

_registered = set()


def alias_for(campaign_id, subject, html, text):
    """One stored template per content: a campaign's subject variants each get their own,
    so two variants never overwrite each other's subject at the ESP."""
    digest = hashlib.sha256(json.dumps([subject, html, text]).encode()).hexdigest()[:12]
    return f"mailroom-campaign-{campaign_id}-{digest}"


def register_once(register):
    """Call `register(backend, alias, subject, html, text)` once per process for the same
    ESP endpoint and alias (the alias names the content: `alias_for`)."""

    def once(backend, alias, subject, html, text):
        endpoint = getattr(backend, "api_url", None) or json.dumps(backend.client_params, default=str, sort_keys=True)
        key = (register.__name__, endpoint, alias)
        if key not in _registered:
            register(backend, alias, subject, html, text)
            _registered.add(key)

    return once


@register_once
def postmark(backend, alias, subject, html, text):
    template = {"Name": alias, "Subject": subject, "HtmlBody": html, "TextBody": text}
    headers = {"X-Postmark-Server-Token": backend.server_token, "Accept": "application/json"}
    with requests.Session() as session:
        session.trust_env = False
        # Update, else create; another worker may create it between our two calls, so
        # a create refused as a duplicate alias is answered by updating once more.
        for method, url, body in (
            ("put", f"{backend.api_url}templates/{alias}", template),
            ("post", f"{backend.api_url}templates", template | {"Alias": alias}),
            ("put", f"{backend.api_url}templates/{alias}", template),
        ):
            response = session.request(method, url, json=body, headers=headers, timeout=30)
            if response.status_code != 422:
                break
        response.raise_for_status()


@register_once
def amazon_ses(backend, alias, subject, html, text):
    import boto3

    content = {"Subject": subject, "Html": html, "Text": text}
    client = boto3.session.Session(**backend.session_params).client("sesv2", **backend.client_params)
    try:  # update, else create, else (a second worker created it meanwhile) update
        try:
            client.update_email_template(TemplateName=alias, TemplateContent=content)
        except client.exceptions.NotFoundException:
            try:
                client.create_email_template(TemplateName=alias, TemplateContent=content)
            except client.exceptions.AlreadyExistsException:
                client.update_email_template(TemplateName=alias, TemplateContent=content)
    finally:
        client.close()
