"""The account emails' words: a verification link, a password-reset link.

Links point at the front end (``AGORA_FRONTEND_URL``, else ``AGORA_PUBLIC_URL``, else the address
of the request that caused the mail): ``<base>/verify-email?token=…`` and
``<base>/reset-password?token=…``. The page there POSTs the token to ``/api/users/verify`` or
``/api/users/password-reset/confirm``.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlencode

from agora.platform.db import utcnow
from agora.settings import Settings

VERIFY_PATH = "/verify-email"
RESET_PATH = "/reset-password"


def link_base(settings: Settings, request_url: str) -> str:
    """The base of the links: the front end's when configured, else this server's address."""
    return (settings.frontend_url or request_url).rstrip("/")


def link(base: str, path: str, token: str) -> str:
    return f"{base.rstrip('/')}{path}?{urlencode({'token': token})}"


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


def _message(*, sender: str, to: str, subject: str, body: str, job_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    # from the job's id: a message sent again after a crash has the same id, and mail clients
    # and servers can tell it is the same message
    message["Message-ID"] = f"<{job_id}@{_domain(sender)}>"
    message.set_content(body)
    return message


def _lasts(lifetime: timedelta) -> str:
    hours = lifetime.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    if hours >= 2:
        return f"{hours:.0f} hours"
    return f"{lifetime.total_seconds() / 60:.0f} minutes"


def verification(
    *,
    sender: str,
    to: str,
    username: str,
    url: str,
    lifetime: timedelta,
    site: str,
    job_id: str,
) -> EmailMessage:
    body = (
        f"Hello {username},\n\n"
        f"please confirm that {to} is your address on {site} by opening this link:\n\n"
        f"{url}\n\n"
        f"The link works once, for {_lasts(lifetime)}. If you did not sign up, ignore this "
        "message.\n"
    )
    return _message(
        sender=sender, to=to, subject=f"Confirm your address on {site}", body=body, job_id=job_id
    )


def password_reset(
    *,
    sender: str,
    to: str,
    username: str,
    url: str,
    lifetime: timedelta,
    site: str,
    job_id: str,
) -> EmailMessage:
    body = (
        f"Hello {username},\n\n"
        f"someone asked to reset your password on {site}. To choose a new one, open this link:\n\n"
        f"{url}\n\n"
        f"The link works once, for {_lasts(lifetime)}, and signs you out everywhere. If you did "
        "not ask for it, ignore this message: your password stays as it is.\n"
    )
    return _message(
        sender=sender, to=to, subject=f"Reset your password on {site}", body=body, job_id=job_id
    )
