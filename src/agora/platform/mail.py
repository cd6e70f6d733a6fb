"""The mail port: send one message. SMTP in production, ``.eml`` files on the embedded default.

``AGORA_SMTP_URL`` selects SMTP (``aiosmtplib``):

- ``smtp://user:password@host:587?starttls=true`` — plain connection upgraded with STARTTLS
  (required: a server that does not offer it is an error, never a silent plain-text login);
- ``smtps://user:password@host:465`` — TLS from the first byte (implicit TLS);
- ``smtp://host:25`` — no TLS and no login (a local relay).

Unset, each message is written to ``AGORA_MAIL_DIR`` (``var/mail/``) as one ``.eml`` file, which
any mail client opens. The file appears whole or not at all: written under a temporary name in
the same directory, then renamed.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from agora.settings import Settings

_TRUE = {"1", "true", "yes", "on"}
_SCHEMES = {"smtp": 25, "smtps": 465}


class Mail(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hands the message on (to the SMTP server, or to a file); raises if it could not."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ValueError("AGORA_SMTP_URL must look like smtp://[user:password@]host[:port]")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return cls(
            host=parts.hostname,
            port=parts.port or _SCHEMES[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=parts.scheme == "smtps",
            starttls=query.get("starttls", "").lower() in _TRUE,
        )


class SmtpMail:
    def __init__(self, server: SmtpServer, *, timeout_seconds: float) -> None:
        self.server = server
        self.timeout_seconds = timeout_seconds

    async def send(self, message: EmailMessage) -> None:
        server = self.server
        await aiosmtplib.send(
            message,
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.implicit_tls,
            # False, not None: None would upgrade only when the server offers it
            start_tls=server.starttls,
            timeout=self.timeout_seconds,
        )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileMail:
    """Each message as ``<directory>/<Message-ID>.eml``: a message sent again replaces itself."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: EmailMessage) -> Path:
        message_id = message.get("Message-ID") or os.urandom(16).hex()
        return self.directory / (_UNSAFE.sub("_", str(message_id).strip("<>"))[:200] + ".eml")

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(message)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(message.as_bytes())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)  # atomic: a reader sees no file or the whole file
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def mail_from_settings(settings: Settings) -> Mail:
    if settings.smtp_url is None:
        return FileMail(settings.mail_dir)
    server = SmtpServer.from_url(settings.smtp_url.get_secret_value())
    return SmtpMail(server, timeout_seconds=settings.smtp_timeout_seconds)
