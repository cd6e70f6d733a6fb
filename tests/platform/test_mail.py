"""The mail port: an SMTP URL read as users write it, SMTP delivery, and whole ``.eml`` files."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from agora.platform.mail import FileMail, SmtpMail, SmtpServer
from tests.support.mail import smtp_server


def message(body: str = "Hello") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Agora <no-reply@agora.example>"
    mail["To"] = "jake@example.com"
    mail["Subject"] = "Hi"
    mail["Message-ID"] = "<0123abcd@agora.example>"
    mail.set_content(body)
    return mail


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1", SmtpServer("127.0.0.1", 25)),
        (
            "smtp://me%40example.com:p%3Ass@mail.example:587?starttls=true",
            SmtpServer("mail.example", 587, "me@example.com", "p:ss", starttls=True),
        ),
        ("smtps://u:p@mail.example", SmtpServer("mail.example", 465, "u", "p", implicit_tls=True)),
    ],
)
def test_an_smtp_url_says_host_port_login_and_tls(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_a_url_that_is_not_smtp_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="AGORA_SMTP_URL"):
        SmtpServer.from_url(url)


async def test_smtp_delivers_the_message_to_the_server() -> None:
    with smtp_server() as (url, inbox):
        await SmtpMail(SmtpServer.from_url(url), timeout_seconds=5).send(message())
        arrived = await inbox.wait_for(lambda mail: mail["To"] == "jake@example.com")
    assert arrived["Message-ID"] == "<0123abcd@agora.example>"
    body = arrived.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Hello"


async def test_a_file_per_message_named_by_its_id_and_sent_again_in_place(tmp_path: Path) -> None:
    outbox = FileMail(tmp_path / "mail")
    await outbox.send(message("first"))
    await outbox.send(message("again"))  # the same Message-ID: a resend after a crash

    files = list((tmp_path / "mail").iterdir())
    assert [file.name for file in files] == ["0123abcd_agora.example.eml"]
    stored = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert isinstance(stored, EmailMessage)
    body = stored.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "again"
