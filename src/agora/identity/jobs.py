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

from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity import account_tokens, emails
from agora.identity.account_tokens import Purpose
from agora.identity.models import AccountToken, User
from agora.platform.jobs.handlers import JobContext, JobHandlers
from agora.platform.jobs.housekeeping import Purge, delete_in_batches, every_hour, purge_batches
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

# what each kind of token is mailed as: the front end's page for its link, and the message
_LINK_MAILS: dict[Purpose, tuple[str, Callable[..., EmailMessage]]] = {
    Purpose.VERIFY_EMAIL: (emails.VERIFY_PATH, emails.verification),
    Purpose.RESET_PASSWORD: (emails.RESET_PATH, emails.password_reset),
}


class AccountEmails:
    def __init__(self, *, mail: Mail, settings: Settings) -> None:
        self.mail = mail
        self.settings = settings

    async def send_verification(self, payload: SendVerification, job: JobContext) -> None:
        async def unverified_user(session: AsyncSession) -> User | None:
            user = await session.get(User, payload.user_id)
            # deleted, or verified meanwhile: nothing to confirm
            return None if user is None or user.verified else user

        await self._send_link(
            job,
            recipient=unverified_user,
            purpose=Purpose.VERIFY_EMAIL,
            lifetime=timedelta(seconds=self.settings.verification_token_seconds),
            link_base=payload.link_base,
        )

    async def send_password_reset(self, payload: SendPasswordReset, job: JobContext) -> None:
        async def account_of_address(session: AsyncSession) -> User | None:
            # no account: no mail, and the asker learns nothing
            return await session.scalar(select(User).where(User.email == payload.email.lower()))

        await self._send_link(
            job,
            recipient=account_of_address,
            purpose=Purpose.RESET_PASSWORD,
            lifetime=timedelta(seconds=self.settings.password_reset_token_seconds),
            link_base=payload.link_base,
        )

    async def _send_link(
        self,
        job: JobContext,
        *,
        recipient: Callable[[AsyncSession], Awaitable[User | None]],
        purpose: Purpose,
        lifetime: timedelta,
        link_base: str,
    ) -> None:
        """Makes a token for ``purpose`` and mails its link to the user ``recipient`` finds (no
        one: nothing is sent, and the job still ends)."""
        if await job.done_before():
            return
        path, compose = _LINK_MAILS[purpose]
        async with job.unit_of_work() as uow:
            user = await recipient(uow.session)
            message = None
            if user is not None:
                token = account_tokens.create(
                    uow.session,
                    user_id=user.id,
                    sent_to=user.email,
                    purpose=purpose,
                    lifetime=lifetime,
                )
                message = compose(
                    sender=self.settings.mail_from,
                    to=user.email,
                    username=user.username,
                    url=emails.link(link_base, path, token),
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


# a used or expired token is kept this long after (a late click still reads "used" or
# "expired"), then purged: the table holds what may still be spent, and little more
TOKENS_KEPT = timedelta(days=1)
PURGE_ACCOUNT_TOKENS = Topic("identity.purge_account_tokens", Purge)
_stale_tokens = purge_batches(
    AccountToken.id,
    lambda now: or_(
        AccountToken.expires_at < now - TOKENS_KEPT, AccountToken.used_at < now - TOKENS_KEPT
    ),
)


async def purge_account_tokens(_payload: Purge, job: JobContext) -> None:
    await delete_in_batches(job, _stale_tokens)


def register(handlers: JobHandlers, *, mail: Mail, settings: Settings) -> None:
    """Called once by the composition root."""
    account_emails = AccountEmails(mail=mail, settings=settings)
    handlers.register(SEND_VERIFICATION, account_emails.send_verification)
    handlers.register(SEND_PASSWORD_RESET, account_emails.send_password_reset)
    handlers.register(PURGE_ACCOUNT_TOKENS, purge_account_tokens)
    if settings.jobs.housekeeping:
        every_hour(handlers, PURGE_ACCOUNT_TOKENS)
