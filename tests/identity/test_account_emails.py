"""Account emails, end to end through SMTP: verify an address, reset a forgotten password.

Each app here sends its mail to a real SMTP server on loopback (aiosmtpd) and the tests read
what arrived. The mail is sent by a job in the background, so the tests wait for it by polling
with a deadline.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import delete, update

from agora.app import create_app
from agora.container import Container
from agora.identity.jobs import SEND_VERIFICATION, SendVerification
from agora.identity.models import AccountToken
from agora.platform.db import utcnow
from agora.platform.jobs.handlers import JobContext, ProcessedJob
from agora.settings import Settings
from tests.conftest import auth, register
from tests.support.apps import client_of
from tests.support.concurrency import ROUNDS, at_once, statuses
from tests.support.database import empty_tables
from tests.support.mail import MAIL_DEADLINE, Inbox, smtp_server

PASSWORD = "password123"
NEW_PASSWORD = "a new passphrase"
_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_-]+)")


def link_token(message: EmailMessage, path: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"http://test{path}?token=" in text, text
    found = _TOKEN.search(text)
    assert found is not None
    return found.group(1)


def to(address: str, subject: str) -> Callable[[EmailMessage], bool]:
    return lambda message: message["To"] == address and subject in message["Subject"]


class Mailing:
    """An app that mails through the test's SMTP server, its client, and what it is built of."""

    def __init__(self, client: AsyncClient, container: Container, inbox: Inbox) -> None:
        self.client = client
        self.container = container
        self.inbox = inbox

    async def jobs_done(self) -> None:
        """Until the outbox is empty: every job committed so far has run."""
        give_up = time.monotonic() + MAIL_DEADLINE
        while (await self.container.jobs.store.stats()).backlog:
            assert time.monotonic() < give_up, "the jobs did not finish"
            await asyncio.sleep(0.02)

    async def verification_token(self, email: str) -> str:
        message = await self.inbox.wait_for(to(email, "Confirm your address"))
        return link_token(message, "/verify-email")

    async def reset_token(self, email: str, *, nth: int = 0) -> str:
        message = await self.inbox.wait_for(to(email, "Reset your password"), nth=nth)
        return link_token(message, "/reset-password")


MakeMailing = Callable[..., Awaitable[Mailing]]


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def make_mailing(
    make_settings: Callable[..., Settings], smtp: tuple[str, Inbox]
) -> AsyncIterator[MakeMailing]:
    smtp_url, inbox = smtp

    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> Mailing:
            container = Container.from_settings(make_settings(smtp_url=smtp_url, **overrides))
            app = create_app(container=container)
            await empty_tables(container.platform.db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(client_of(app))
            return Mailing(client, container, inbox)

        yield build


@pytest.fixture
async def mailing(make_mailing: MakeMailing) -> Mailing:
    return await make_mailing()


async def current_user(client: AsyncClient, token: str) -> Response:
    return await client.get("/api/user", headers=auth(token))


async def login(client: AsyncClient, password: str) -> Response:
    return await client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": password}}
    )


async def request_reset(client: AsyncClient, email: str) -> Response:
    return await client.post("/api/users/password-reset", json={"email": email})


async def confirm_reset(client: AsyncClient, token: str, password: str = NEW_PASSWORD) -> Response:
    return await client.post(
        "/api/users/password-reset/confirm", json={"token": token, "password": password}
    )


def token_error(response: Response) -> list[str]:
    assert response.status_code == 422, response.text
    errors: list[str] = response.json()["errors"]["token"]
    return errors


# --- verification ---------------------------------------------------------------------------


async def test_registration_mails_a_link_that_verifies_the_address_once(
    mailing: Mailing,
) -> None:
    client = mailing.client
    token = await register(client, "jake")
    assert (await current_user(client, token)).json()["user"]["verified"] is False

    message = await mailing.inbox.wait_for(to("jake@example.com", "Confirm your address"))
    assert message["From"] == "Agora <no-reply@localhost>"
    assert re.fullmatch(r"<[0-9a-f]{32}@localhost>", message["Message-ID"])
    secret = link_token(message, "/verify-email")

    verified = await client.post("/api/users/verify", json={"token": secret})
    assert verified.status_code == 204
    assert (await current_user(client, token)).json()["user"]["verified"] is True
    assert (await login(client, PASSWORD)).json()["user"]["verified"] is True

    again = await client.post("/api/users/verify", json={"token": secret})
    assert token_error(again) == ["has already been used"]


async def test_a_made_up_verification_token_is_refused(mailing: Mailing) -> None:
    response = await mailing.client.post("/api/users/verify", json={"token": "not-a-token"})
    assert token_error(response) == ["is invalid"]
    empty = await mailing.client.post("/api/users/verify", json={"token": ""})
    assert empty.status_code == 422


async def test_a_new_address_is_unverified_until_a_new_link_confirms_it(mailing: Mailing) -> None:
    client = mailing.client
    token = await register(client, "jake")
    first = await mailing.verification_token("jake@example.com")
    assert (await client.post("/api/users/verify", json={"token": first})).status_code == 204

    changed = await client.put(
        "/api/user", json={"user": {"email": "jacob@example.com"}}, headers=auth(token)
    )
    assert changed.json()["user"]["verified"] is False

    asked = await client.post("/api/user/verification", headers=auth(token))
    assert asked.status_code == 202
    second = await mailing.verification_token("jacob@example.com")
    assert (await client.post("/api/users/verify", json={"token": second})).status_code == 204
    assert (await current_user(client, token)).json()["user"]["verified"] is True


async def test_a_link_sent_to_an_old_address_does_not_verify_the_new_one(
    mailing: Mailing,
) -> None:
    client = mailing.client
    token = await register(client, "jake")
    sent_to_old = await mailing.verification_token("jake@example.com")
    await client.put(
        "/api/user", json={"user": {"email": "jacob@example.com"}}, headers=auth(token)
    )

    response = await client.post("/api/users/verify", json={"token": sent_to_old})
    assert token_error(response) == ["was sent to an address this account no longer has"]
    assert (await current_user(client, token)).json()["user"]["verified"] is False


# --- password reset -------------------------------------------------------------------------


async def test_a_reset_sets_the_password_and_signs_out_every_older_token(
    mailing: Mailing,
) -> None:
    client = mailing.client
    old_token = await register(client, "jake")
    # in use before the reset: the check that it is not revoked is cached by now
    assert (await current_user(client, old_token)).status_code == 200

    asked = await request_reset(client, "Jake@Example.com")
    assert asked.status_code == 202
    secret = await mailing.reset_token("jake@example.com")

    assert (await confirm_reset(client, secret)).status_code == 204

    refused = await current_user(client, old_token)
    assert refused.status_code == 401
    assert refused.json() == {"errors": {"token": ["has been revoked; sign in again"]}}
    assert (await client.get("/api/articles", headers=auth(old_token))).status_code == 401
    assert (await login(client, PASSWORD)).status_code == 401
    signed_in = await login(client, NEW_PASSWORD)
    assert signed_in.status_code == 200
    new_token = signed_in.json()["user"]["token"]
    assert (await current_user(client, new_token)).status_code == 200

    again = await confirm_reset(client, secret, "yet another passphrase")
    assert token_error(again) == ["has already been used"]
    assert (await login(client, NEW_PASSWORD)).status_code == 200


async def test_one_reset_token_spent_twice_at_once_sets_one_password(mailing: Mailing) -> None:
    client = mailing.client
    await register(client, "jake")
    for round_ in range(ROUNDS):  # a race window is narrow: several rounds, a fresh token each
        assert (await request_reset(client, "jake@example.com")).status_code == 202
        secret = await mailing.reset_token("jake@example.com", nth=round_)
        first, second = f"passphrase {round_} a", f"passphrase {round_} b"

        answers = await at_once(
            confirm_reset(client, secret, first), confirm_reset(client, secret, second)
        )

        assert sorted(statuses(answers)) == [204, 422]
        won, lost = (first, second) if answers[0].status_code == 204 else (second, first)
        assert token_error(answers[0] if answers[0].status_code == 422 else answers[1]) == [
            "has already been used"
        ]
        assert (await login(client, won)).status_code == 200
        assert (await login(client, lost)).status_code == 401


async def test_an_expired_reset_token_is_refused(mailing: Mailing) -> None:
    client = mailing.client
    await register(client, "jake")
    await request_reset(client, "jake@example.com")
    secret = await mailing.reset_token("jake@example.com")
    async with mailing.container.platform.db.sessions.begin() as session:
        await session.execute(
            update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    response = await confirm_reset(client, secret)

    assert token_error(response) == ["has expired; ask for a new one"]
    assert (await login(client, PASSWORD)).status_code == 200


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(mailing: Mailing) -> None:
    client = mailing.client
    await register(client, "jake")
    await mailing.verification_token("jake@example.com")

    known = await request_reset(client, "jake@example.com")
    unknown = await request_reset(client, "nobody@example.com")
    await mailing.jobs_done()

    assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
    assert known.status_code == 202
    assert len(mailing.inbox.to("jake@example.com")) == 2
    assert mailing.inbox.to("nobody@example.com") == []


async def test_a_bad_reset_request_is_a_422(mailing: Mailing) -> None:
    client = mailing.client
    assert (await request_reset(client, "not an address")).status_code == 422
    short = await confirm_reset(client, "whatever", "short")
    assert short.status_code == 422
    assert "password" in short.json()["errors"]


async def test_reset_requests_are_rate_limited_per_client_and_per_address(
    make_mailing: MakeMailing,
) -> None:
    per_client = await make_mailing(rate_limits_enabled=True, account_email_rate_limit="2/minute")
    for address in ("a@example.com", "b@example.com"):
        assert (await request_reset(per_client.client, address)).status_code == 202
    limited = await request_reset(per_client.client, "c@example.com")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0

    per_address = await make_mailing(rate_limits_enabled=True, reset_address_rate_limit="2/hour")
    for _ in range(2):
        assert (await request_reset(per_address.client, "a@example.com")).status_code == 202
    assert (await request_reset(per_address.client, "A@example.com")).status_code == 429
    assert (await request_reset(per_address.client, "b@example.com")).status_code == 202


# --- the embedded default: .eml files -------------------------------------------------------


async def test_without_smtp_each_message_is_an_eml_file(
    client_for: Callable[..., Awaitable[AsyncClient]], tmp_path: Path
) -> None:
    mail_dir = tmp_path / "outgoing"
    client = await client_for(mail_dir=mail_dir)
    await register(client, "jake")

    give_up = time.monotonic() + MAIL_DEADLINE
    while not (files := list(mail_dir.glob("*.eml"))):
        assert time.monotonic() < give_up, "no .eml file was written"
        await asyncio.sleep(0.02)
    assert not list(mail_dir.glob("*.tmp"))  # written under another name, then renamed
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "jake@example.com"
    secret = link_token(message, "/verify-email")
    assert (await client.post("/api/users/verify", json={"token": secret})).status_code == 204


# --- jobs: at least once, effects once -------------------------------------------------------


async def test_a_refused_registration_leaves_no_mail_behind(mailing: Mailing) -> None:
    client = mailing.client
    await register(client, "jake")
    taken = await client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "other@example.com", "password": PASSWORD}},
    )
    assert taken.status_code == 409
    await mailing.jobs_done()

    assert [message["To"] for message in mailing.inbox.messages] == ["jake@example.com"]


async def test_a_job_delivered_again_sends_once_and_a_resend_keeps_its_message_id(
    mailing: Mailing,
) -> None:
    client = mailing.client
    token = await register(client, "jake")
    first = await mailing.inbox.wait_for(to("jake@example.com", "Confirm your address"))
    await mailing.jobs_done()
    job = JobContext(
        message_id=first["Message-ID"].strip("<>").partition("@")[0],
        topic=SEND_VERIFICATION.name,
        attempt=2,
        units_of_work=mailing.container.units_of_work,
    )
    payload = SendVerification(
        user_id=mailing.container.tokens.user_id(token), link_base="http://test"
    ).model_dump()
    handlers = mailing.container.jobs.handlers

    # delivered again after it finished (at least once): nothing more is sent
    await handlers.run(payload=payload, context=job)
    assert len(mailing.inbox.messages) == 1

    # as if the process had died after the send, before it recorded the job as done
    async with mailing.container.platform.db.sessions.begin() as session:
        await session.execute(delete(ProcessedJob))
    await handlers.run(payload=payload, context=job)

    first_again = mailing.inbox.messages[1]  # the server had it before it answered the send
    assert first_again["Message-ID"] == first["Message-ID"]
    secret = link_token(first_again, "/verify-email")
    assert secret != link_token(first, "/verify-email")
    assert (await client.post("/api/users/verify", json={"token": secret})).status_code == 204
