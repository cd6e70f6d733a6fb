"""Avatar uploads: the bytes must really be a PNG, JPEG or WebP image, whatever the client says."""

from __future__ import annotations

import io
import secrets
import warnings

from PIL import Image, UnidentifiedImageError

from agora.platform.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from agora.platform.storage import FileStorage

# Pillow's format name → the file extension we store it under
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
MAX_PIXELS = 40_000_000
AVATAR_PREFIX = "avatars/"


def sniff_image_format(data: bytes) -> str:
    """The real format of ``data`` from its content, or ``UnsupportedMediaType``."""
    if not data:
        raise Invalid("can't be blank", field="image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                if image.width * image.height > MAX_PIXELS:
                    raise Invalid("has too many pixels", field="image")
                image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedMediaType("must be a PNG, JPEG or WebP image", field="image") from None
    except (OSError, SyntaxError, ValueError):
        raise Invalid("is a damaged image file", field="image") from None
    if image_format not in ACCEPTED_FORMATS:
        raise UnsupportedMediaType("must be a PNG, JPEG or WebP image", field="image")
    return image_format


async def store_avatar(
    *, storage: FileStorage, user_id: int, data: bytes, max_bytes: int, base_url: str
) -> tuple[str, str]:
    """Check and store an uploaded avatar; its storage key and the URL that serves it."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"is too large (the limit is {max_bytes} bytes)", field="image")
    extension = ACCEPTED_FORMATS[sniff_image_format(data)]
    # a fresh name each time, so caches and CDNs never serve the previous picture
    key = f"{AVATAR_PREFIX}{user_id}-{secrets.token_hex(8)}.{extension}"
    return key, await storage.save(key, data, base_url=base_url)


def _own_avatar_key(user_id: int, url: str | None) -> str | None:
    """The storage key behind ``url`` if it is an avatar uploaded by this user, else None.

    ``image`` is also settable to any URL, so a URL that merely looks like another user's avatar
    must never lead to deleting that user's file.
    """
    if not url or f"/{AVATAR_PREFIX}" not in url:
        return None
    name = url.rsplit("/", 1)[-1]
    return AVATAR_PREFIX + name if name.startswith(f"{user_id}-") else None


async def discard_avatar(*, storage: FileStorage, user_id: int, url: str | None) -> None:
    """Delete a replaced avatar's file, so a picture the user removed is no longer served."""
    key = _own_avatar_key(user_id, url)
    if key is not None:
        await storage.delete(key)
