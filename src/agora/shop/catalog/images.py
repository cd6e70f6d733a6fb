"""Product images: checked to be a PNG, JPEG or WebP image whatever the client says (identity's
sniffing, shared with avatars), stored through the platform's storage port before the row is
written (and removed again if the row is not), and their files removed once a deletion is
committed."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from agora.identity.avatars import ACCEPTED_FORMATS, sniff_image_format
from agora.platform.errors import NotFound, PayloadTooLarge
from agora.platform.storage import FileStorage
from agora.platform.uow import UnitOfWork
from agora.shop.catalog.models import ProductImage
from agora.shop.catalog.products import answer, product_by_slug
from agora.shop.catalog.schemas import StaffProductDetail

IMAGE_PREFIX = "products/"


async def add_image(
    *,
    uow: UnitOfWork,
    storage: FileStorage,
    slug: str,
    data: bytes,
    alt: str,
    max_bytes: int,
    base_url: str,
) -> StaffProductDetail:
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"is too large (the limit is {max_bytes} bytes)", field="image")
    extension = ACCEPTED_FORMATS[sniff_image_format(data)]
    # stored before the first statement, so no database connection waits for the disk; a fresh
    # name each time, so caches never serve another picture under this URL
    key = f"{IMAGE_PREFIX}{secrets.token_hex(12)}.{extension}"
    url = await storage.save(key, data, base_url=base_url)
    try:
        return await _add_row(uow, slug=slug, key=key, url=url, alt=alt)
    except Exception:
        await storage.delete(key)  # the product is gone, or the write failed: no orphan file
        raise


async def _add_row(
    uow: UnitOfWork, *, slug: str, key: str, url: str, alt: str
) -> StaffProductDetail:
    session = uow.session
    product = await product_by_slug(session, slug)
    last = await session.scalar(
        select(func.max(ProductImage.position)).where(ProductImage.product_id == product.id)
    )
    session.add(
        ProductImage(
            product_id=product.id,
            storage_key=key,
            url=url,
            alt=alt,
            position=0 if last is None else last + 1,
        )
    )
    await session.flush()
    return await answer(uow, product.id)


async def delete_image(
    *, uow: UnitOfWork, storage: FileStorage, slug: str, image_id: int
) -> StaffProductDetail:
    session = uow.session
    product = await product_by_slug(session, slug)
    image = await session.scalar(
        select(ProductImage).where(
            ProductImage.id == image_id, ProductImage.product_id == product.id
        )
    )
    if image is None:
        raise NotFound("not found", field="image")
    key = image.storage_key

    async def discard() -> None:
        await storage.delete(key)

    await session.delete(image)
    await session.flush()
    uow.after_commit(discard)
    return await answer(uow, product.id)
