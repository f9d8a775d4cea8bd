"""Transactional email: each message is a template trio under templates/emails/

    <key>.subject.txt   one line
    <key>.txt           plain text
    <key>.html          HTML, extending emails/base.html (Keel's layout, inline styles)

rendered with the site context (`config.site`: name, logo, support link, …) and sent through
`config.mail` (SMTP system settings or the EMAIL_URL backend). Callers are jobs
(`@task(retries=5)`), never requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from config.mail import from_address, mail_connection
from config.site import site_context


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_render(template: str, context: dict[str, Any]) -> RenderedEmail:
    """Render the subject, text and HTML bodies of one email template."""
    ctx = {**site_context(), **context}
    subject = " ".join(render_to_string(f"emails/{template}.subject.txt", ctx).split())
    return RenderedEmail(
        subject=subject,
        text=render_to_string(f"emails/{template}.txt", ctx).strip() + "\n",
        html=render_to_string(f"emails/{template}.html", ctx),
    )


def email_send(*, to: str, template: str, context: dict[str, Any]) -> None:
    """Render and send one email now (raises on transport errors so the job retries)."""
    rendered = email_render(template, context)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_address(),
        to=[to],
        connection=mail_connection(),
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
