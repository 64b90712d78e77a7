"""Admin forms: the address field every staff form uses, recording an opt-out someone
gave staff, lifting a system suppression."""

from django import forms

from .addresses import check_address, validate_address
from .models import Source
from .policy import PERSONAL_CHANNELS

STAFF_SOURCES = (Source.PHONE, Source.LETTER, Source.EMAIL)


class AddressField(forms.CharField):
    """An email address checked by suppression.addresses (the one validator); cleans to
    the normalised address."""

    default_validators = [validate_address]

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Email address")
        kwargs.setdefault("max_length", 320)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return check_address(value) if value else value


class RecordOptOutForm(forms.Form):
    address = AddressField()
    channels = forms.MultipleChoiceField(
        label="Opt out of",
        choices=[(channel.value, channel.label) for channel in PERSONAL_CHANNELS],
        initial=[channel.value for channel in PERSONAL_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Untick what the person did not ask to stop.",
    )
    source = forms.ChoiceField(
        label="Received by",
        choices=[(source.value, source.label) for source in STAFF_SOURCES],
        initial=Source.PHONE,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E.g. the date of the letter or call. Keep personal details out.",
    )


class LiftSuppressionForm(forms.Form):
    reason = forms.CharField(
        label="Why is this suppression wrong?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the consent log with your name.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
