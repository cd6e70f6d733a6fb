"""Routes of the account emails: verify an address, reset a forgotten password.

Beside ``identity.api``, under ``/api`` and in RealWorld's error format. Beyond the RealWorld
spec, so their bodies are flat (``{"token": …}``), not wrapped in ``{"user": …}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agora.identity import accounts
from agora.identity.deps import CurrentUserId, PasswordsDep
from agora.identity.emails import link_base
from agora.identity.routing import TokenFirstRoute
from agora.identity.schemas import (
    PasswordResetConfirmRequest,
    PasswordResetRequest,
    VerifyEmailRequest,
)
from agora.platform.deps import ClientAddress, PlatformDep, PublicUrl, UnitOfWorkDep
from agora.platform.error_formats import REALWORLD, Api
from agora.platform.openapi import errors

router = APIRouter(prefix="/api", tags=["identity"], route_class=TokenFirstRoute)


@router.post(
    "/users/verify",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Confirm your address with the token mailed to it",
    response_description="Verified: no content",
    description="The token works once, until it expires (AGORA_VERIFICATION_TOKEN_SECONDS). "
    "`GET /api/user` then shows `verified: true`. No sign-in needed: the link may be opened "
    "in another browser.",
    responses=errors(422, 429),
)
async def verify_email(
    body: VerifyEmailRequest, uow: UnitOfWorkDep, platform: PlatformDep, client: ClientAddress
) -> Response:
    await platform.rate_limiter.hit(platform.settings.mailed_link_rate_limit, "verify", client)
    await accounts.verify_email(uow=uow, token=body.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/user/verification",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    summary="Mail me a new verification link",
    response_description="Accepted: the mail is on its way (no content)",
    description="Nothing is sent when the address is verified already.",
    responses=errors(401, 429),
)
async def request_verification(
    user_id: CurrentUserId, uow: UnitOfWorkDep, platform: PlatformDep, public_url: PublicUrl
) -> Response:
    settings = platform.settings
    await platform.rate_limiter.hit(settings.account_email_rate_limit, "verification", str(user_id))
    await accounts.request_verification(
        uow=uow, user_id=user_id, link_base=link_base(settings, public_url)
    )
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/users/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    summary="Mail a password-reset link",
    response_description="Accepted, whoever the address belongs to (no content)",
    description="Always 202, whether the address has an account or not (only an account's "
    "address gets a mail), so that nobody learns which addresses have one. Limited per "
    "client (AGORA_ACCOUNT_EMAIL_RATE_LIMIT) and per address "
    "(AGORA_RESET_ADDRESS_RATE_LIMIT).",
    responses=errors(422, 429),
)
async def request_password_reset(
    body: PasswordResetRequest,
    uow: UnitOfWorkDep,
    platform: PlatformDep,
    client: ClientAddress,
    public_url: PublicUrl,
) -> Response:
    settings = platform.settings
    email = body.email.lower()
    await platform.rate_limiter.hit(settings.account_email_rate_limit, "reset", client)
    await platform.rate_limiter.hit(settings.reset_address_rate_limit, "reset-to", email)
    await accounts.request_password_reset(
        uow=uow, email=email, link_base=link_base(settings, public_url)
    )
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/users/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Set a new password with the token mailed for it",
    response_description="The password is changed: no content",
    description="The token works once, until it expires (AGORA_PASSWORD_RESET_TOKEN_SECONDS). "
    "Every access token issued before is refused from then on: sign in with the new password.",
    responses=errors(422, 429),
)
async def confirm_password_reset(
    body: PasswordResetConfirmRequest,
    uow: UnitOfWorkDep,
    passwords: PasswordsDep,
    platform: PlatformDep,
    client: ClientAddress,
) -> Response:
    await platform.rate_limiter.hit(platform.settings.mailed_link_rate_limit, "confirm", client)
    await accounts.reset_password(
        uow=uow,
        db=platform.db,
        passwords=passwords,
        token=body.token,
        password=body.password,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


api = Api(router, errors=REALWORLD)
