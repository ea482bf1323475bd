"""Send a notice through one channel: a webhook, Slack, email (SMTP) or Apprise.

httpx for the two HTTP channels (already the CleverTap client's library), the standard library's
smtplib for mail, and Apprise for everything else it knows (PagerDuty, Teams, Opsgenie, ...):
each channel is a few lines over a well-kept library. A failure raises ``AlertDeliveryError``
naming the channel; it never names the secret parts (URLs, passwords).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import httpx

from syncline.alerts.notice import Notice
from syncline.config.alerts import (
    AlertChannel,
    AppriseChannel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
)
from syncline.errors import AlertDeliveryError

__all__ = ["send"]

_TIMEOUT_S = 10.0


def send(channel: AlertChannel, notice: Notice) -> None:
    """Deliver ``notice``; AlertDeliveryError when the channel refused or could not be reached."""
    try:
        if isinstance(channel, WebhookChannel):
            headers = {k: v.get_secret_value() for k, v in channel.headers.items()}
            _post(channel.url.get_secret_value(), notice.payload(), headers, "webhook")
        elif isinstance(channel, SlackChannel):
            _post(channel.webhook_url.get_secret_value(), {"text": notice.text}, {}, "Slack")
        elif isinstance(channel, EmailChannel):
            _mail(channel, notice)
        else:
            _apprise(channel, notice)
    except AlertDeliveryError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertDeliveryError(
            f"the {channel.type} channel could not send the alert: {type(exc).__name__}: "
            f"{exc}") from exc


def _post(url: str, body: object, headers: dict[str, str], what: str) -> None:
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=_TIMEOUT_S)
    except httpx.HTTPError as exc:
        host = httpx.URL(url).host
        raise AlertDeliveryError(
            f"the {what} at {host} could not be reached: {type(exc).__name__}") from exc
    if response.status_code >= 300:
        raise AlertDeliveryError(
            f"the {what} at {response.url.host} answered HTTP {response.status_code}; check "
            "its URL and that it accepts JSON POSTs")


def _mail(channel: EmailChannel, notice: Notice) -> None:
    message = EmailMessage()
    message["Subject"] = notice.title
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message.set_content(notice.text)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP = (
        smtplib.SMTP_SSL(channel.host, channel.port, timeout=_TIMEOUT_S, context=context)
        if channel.ssl else smtplib.SMTP(channel.host, channel.port, timeout=_TIMEOUT_S)
    )
    with smtp:
        if not channel.ssl and channel.starttls:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
        if channel.username and channel.password is not None:
            smtp.login(channel.username, channel.password.get_secret_value())
        smtp.send_message(message)


def _apprise(channel: AppriseChannel, notice: Notice) -> None:
    import apprise  # imported on use: most projects never alert through it

    sender = apprise.Apprise()
    if not sender.add(channel.url.get_secret_value()):
        raise AlertDeliveryError("the apprise channel's URL is not one Apprise understands; "
                                 "see Apprise's list of supported services")
    if not sender.notify(title=notice.title, body=notice.text):
        raise AlertDeliveryError("the apprise channel could not send the alert (Apprise "
                                 "reported a failure; its log says which service)")
