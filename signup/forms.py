"""The subscribe form: address, first name, the optional channels offered, the version of the
wording shown, and a honeypot field people never see.

What a stranger types is hostile until checked: the address goes through the project's one
address check, and neither value may hold a line break or another control character (both
end up in an email, the address in its To: header).
"""

import unicodedata

from django import forms

from suppression.addresses import InvalidAddress, check_address
from suppression.models import Channel
from suppression.public.views import CHOICES

HONEYPOT = "website"
# Control characters (CR, LF and the others Python's email package ends a line at) and the
# Unicode line and paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Zl", "Zp"}


def described(channel):
    """(label, help text) of a channel, worded as the preference centre words it."""
    return next((label, help_text) for choice, label, help_text in CHOICES if choice == channel)


def refuse_control_characters(value):
    if any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in value):
        raise forms.ValidationError("Line breaks and control characters are not allowed here.", code="control")


class SignupForm(forms.Form):
    email = forms.CharField(
        label="Email address",
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    first_name = forms.CharField(
        label="First name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    channels = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    wording = forms.CharField(max_length=64, widget=forms.HiddenInput)
    # Hidden from people by the page's CSS (not type=hidden: bots skip those); bots fill it in.
    website = forms.CharField(
        required=False,
        label="Leave this empty",
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.email_offers = described(Channel.EMAIL_MARKETING)
        self.offered = [(channel, *described(channel)) for channel in channels]
        self.fields["channels"].choices = [(channel, label) for channel, label, _ in self.offered]

    def is_bot(self):
        """True when the honeypot was filled in: only a program sees that field."""
        return bool(str(self.data.get(HONEYPOT, "")).strip())

    def clean_email(self):
        value = self.cleaned_data["email"]
        refuse_control_characters(value)
        try:
            return check_address(value)
        except InvalidAddress as error:
            raise forms.ValidationError(f"Please check the address: {error}", code="invalid") from error

    def clean_first_name(self):
        value = self.cleaned_data["first_name"]
        refuse_control_characters(value)
        return value
