"""Service errors on Keel's pages: a `DomainError` carries its field and its bare text, so a
page puts it beside the field (or above the form, or in a flash message) without parsing the
envelope's "field: message" string."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest

from config.errors import DomainError


def form_error(form: forms.BaseForm, exc: DomainError) -> None:
    """The error beside its field when the form has that field, else above the form."""
    if exc.field and exc.field in form.fields:
        form.add_error(exc.field, exc.text)
    else:
        form.add_error(None, exc.message)


def flash_error(request: HttpRequest, exc: DomainError) -> None:
    """The error as a flash message, without the field prefix (the page names no fields)."""
    messages.error(request, exc.text)
