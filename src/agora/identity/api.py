"""Identity routes under ``/api``: users, login, the current user, profiles and follows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status

from agora.identity import follows, service
from agora.identity.deps import (
    CurrentUser,
    CurrentUserId,
    IdentityReadsDep,
    OptionalUserId,
    PasswordsDep,
    TokenCodecDep,
)
from agora.identity.emails import link_base
from agora.identity.follows import SqlFollows
from agora.identity.routing import TokenFirstRoute
from agora.identity.schemas import (
    LoginUserRequest,
    NewUserRequest,
    ProfileResponse,
    UpdateUserRequest,
    UserResponse,
)
from agora.platform.deps import ClientAddress, PlatformDep, PublicUrl, UnitOfWorkDep
from agora.platform.error_formats import REALWORLD, Api
from agora.platform.openapi import errors
from agora.platform.wire import SafeStr

# a missing token is a 401 even when the body is not JSON at all
router = APIRouter(prefix="/api", tags=["identity"], route_class=TokenFirstRoute)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Register",
    responses=errors(409, 422, 429),
)
async def register(
    body: NewUserRequest,
    uow: UnitOfWorkDep,
    tokens: TokenCodecDep,
    passwords: PasswordsDep,
    platform: PlatformDep,
    client: ClientAddress,
    public_url: PublicUrl,
) -> UserResponse:
    await platform.rate_limiter.hit(platform.settings.register_rate_limit, "register", client)
    user = await service.register(
        uow=uow,
        tokens=tokens,
        passwords=passwords,
        new_user=body.user,
        link_base=link_base(platform.settings, public_url),
    )
    return UserResponse(user=user)


@router.post("/users/login", summary="Log in", responses=errors(401, 422, 429))
async def login(
    body: LoginUserRequest,
    tokens: TokenCodecDep,
    passwords: PasswordsDep,
    platform: PlatformDep,
    client: ClientAddress,
) -> UserResponse:
    await platform.rate_limiter.hit(platform.settings.login_rate_limit, "login", client)
    user = await service.login(
        db=platform.db, tokens=tokens, passwords=passwords, credentials=body.user
    )
    return UserResponse(user=user)


@router.get("/user", summary="The current user", responses=errors(401))
async def current_user(user: CurrentUser, tokens: TokenCodecDep) -> UserResponse:
    return UserResponse(user=service.user_public(user, tokens.issue(user.id)))


# The two writes below take the user's id, not the loaded user (CurrentUser): loading it would
# hold a pooled connection while the password is hashed or the file is stored.


@router.put("/user", summary="Update the current user", responses=errors(401, 409, 422))
async def update_current_user(
    body: UpdateUserRequest,
    user_id: CurrentUserId,
    uow: UnitOfWorkDep,
    tokens: TokenCodecDep,
    passwords: PasswordsDep,
    platform: PlatformDep,
) -> UserResponse:
    updated = await service.update_user(
        uow=uow,
        storage=platform.storage,
        tokens=tokens,
        passwords=passwords,
        user_id=user_id,
        changes=body.user,
    )
    return UserResponse(user=updated)


# the bytes decide, not the part's Content-Type or file name: anything else is a 415
_AVATAR_TYPES = {"image": {"contentType": "image/png, image/jpeg, image/webp"}}


@router.post(
    "/user/image",
    summary="Upload your avatar (PNG, JPEG or WebP)",
    responses=errors(401, 413, 415, 422),
    openapi_extra={
        "requestBody": {"content": {"multipart/form-data": {"encoding": _AVATAR_TYPES}}}
    },
)
async def upload_avatar(
    image: Annotated[
        UploadFile,
        File(
            description="A PNG, JPEG or WebP image (what its bytes are, whatever its name or type "
            "says), of at most AGORA_AVATAR_MAX_BYTES (2 MiB unless configured)"
        ),
    ],
    user_id: CurrentUserId,
    uow: UnitOfWorkDep,
    tokens: TokenCodecDep,
    platform: PlatformDep,
    public_url: PublicUrl,
) -> UserResponse:
    limit = platform.settings.avatar_max_bytes
    updated = await service.set_avatar(
        uow=uow,
        storage=platform.storage,
        tokens=tokens,
        user_id=user_id,
        data=await image.read(limit + 1),
        max_bytes=limit,
        base_url=public_url,
    )
    return UserResponse(user=updated)


@router.get("/profiles/{username}", summary="A profile", responses=errors(401, 404))
async def get_profile(
    username: SafeStr, reads: IdentityReadsDep, viewer: OptionalUserId
) -> ProfileResponse:
    profile = await reads.profile(username, viewer)
    return ProfileResponse(profile=profile)


@router.post(
    "/profiles/{username}/follow", summary="Follow a user", responses=errors(401, 404, 422)
)
async def follow(username: SafeStr, uow: UnitOfWorkDep, user: CurrentUser) -> ProfileResponse:
    profile = await follows.follow(
        uow=uow, follows=SqlFollows(uow.session), username=username, follower_id=user.id
    )
    return ProfileResponse(profile=profile)


@router.delete("/profiles/{username}/follow", summary="Unfollow a user", responses=errors(401, 404))
async def unfollow(username: SafeStr, uow: UnitOfWorkDep, user: CurrentUser) -> ProfileResponse:
    # CurrentUser, not CurrentUserId: a valid token for a deleted user must get 401, not a profile
    profile = await follows.unfollow(
        uow=uow, follows=SqlFollows(uow.session), username=username, follower_id=user.id
    )
    return ProfileResponse(profile=profile)


# RealWorld's clients read failures as {"errors": {field: [message]}}
api = Api(router, errors=REALWORLD)
