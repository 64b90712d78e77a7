"""Admin forms: recording an opt-out someone gave staff, lifting a system suppression."""

from django import forms

from .addresses import normalise_address
from .models import Source
from .policy import PERSONAL_CHANNELS

STAFF_SOURCES = (Source.PHONE, Source.LETTER, Source.EMAIL)


class RecordOptOutForm(forms.Form):
    address = forms.EmailField(label="Email address", max_length=320)
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

    def clean_address(self):
        return normalise_address(self.cleaned_data["address"])


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
