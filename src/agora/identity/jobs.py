"""Identity's background jobs: the account emails.

Each handler, delivered at least once, makes its mail go out at least once and its token once:

1. ``job.done_before()``: a delivery of a job that finished already sends nothing;
2. a short transaction creates the token (so the link works the moment the mail arrives);
3. the mail is sent, outside any transaction (SMTP may take seconds; on SQLite an open write
   transaction would hold every other writer back meanwhile);
4. ``job.first_time(uow)`` records the job as done.

A crash between 3 and 4 sends the mail again, with the same ``Message-ID`` (from the job's id)
and a second token; both work until one is used.

The handler makes the token, not the request that added the job: the outbox holds only a user id
or an address, and the raw secret exists nowhere but in the mail.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from pydantic import BaseModel
from sqlalchemy import select

from agora.identity import account_tokens, emails
from agora.identity.account_tokens import Purpose
from agora.identity.models import User
from agora.platform.jobs.handlers import JobContext, JobHandlers
from agora.platform.mail import Mail
from agora.platform.outbox import Topic
from agora.settings import Settings


class SendVerification(BaseModel):
    user_id: int
    link_base: str


class SendPasswordReset(BaseModel):
    # the address asked about, with an account or not: the request cannot tell, so that its
    # answer and its timing are the same either way; the handler looks it up
    email: str
    link_base: str


SEND_VERIFICATION = Topic("identity.send_verification", SendVerification)
SEND_PASSWORD_RESET = Topic("identity.send_password_reset", SendPasswordReset)


class AccountEmails:
    def __init__(self, *, mail: Mail, settings: Settings) -> None:
        self.mail = mail
        self.settings = settings

    async def send_verification(self, payload: SendVerification, job: JobContext) -> None:
        if await job.done_before():
            return
        lifetime = timedelta(seconds=self.settings.verification_token_seconds)
        async with job.unit_of_work() as uow:
            user = await uow.session.get(User, payload.user_id)
            if user is None or user.verified:
                message = None  # deleted, or verified meanwhile: nothing to confirm
            else:
                token = account_tokens.create(
                    uow.session,
                    user_id=user.id,
                    sent_to=user.email,
                    purpose=Purpose.VERIFY_EMAIL,
                    lifetime=lifetime,
                )
                message = emails.verification(
                    sender=self.settings.mail_from,
                    to=user.email,
                    username=user.username,
                    url=emails.link(payload.link_base, emails.VERIFY_PATH, token),
                    lifetime=lifetime,
                    site=self.settings.site_title,
                    job_id=job.message_id,
                )
            await uow.commit()
        await self._send_once(message, job)

    async def send_password_reset(self, payload: SendPasswordReset, job: JobContext) -> None:
        if await job.done_before():
            return
        lifetime = timedelta(seconds=self.settings.password_reset_token_seconds)
        async with job.unit_of_work() as uow:
            user = await uow.session.scalar(select(User).where(User.email == payload.email.lower()))
            if user is None:
                message = None  # no account: no mail, and the asker learns nothing
            else:
                token = account_tokens.create(
                    uow.session,
                    user_id=user.id,
                    sent_to=user.email,
                    purpose=Purpose.RESET_PASSWORD,
                    lifetime=lifetime,
                )
                message = emails.password_reset(
                    sender=self.settings.mail_from,
                    to=user.email,
                    username=user.username,
                    url=emails.link(payload.link_base, emails.RESET_PATH, token),
                    lifetime=lifetime,
                    site=self.settings.site_title,
                    job_id=job.message_id,
                )
            await uow.commit()
        await self._send_once(message, job)

    async def _send_once(self, message: EmailMessage | None, job: JobContext) -> None:
        if message is not None:
            await self.mail.send(message)
        async with job.unit_of_work() as uow:
            await job.first_time(uow)
            await uow.commit()


def register(handlers: JobHandlers, *, mail: Mail, settings: Settings) -> None:
    """Called once by the composition root."""
    account_emails = AccountEmails(mail=mail, settings=settings)
    handlers.register(SEND_VERIFICATION, account_emails.send_verification)
    handlers.register(SEND_PASSWORD_RESET, account_emails.send_password_reset)
