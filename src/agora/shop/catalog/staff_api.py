"""The catalog's staff routes under ``/api/shop``: categories, products, variants, prices, stock,
images, publishing. Each needs a staff member's token (401 without one, 403 for a customer) and
answers with what it changed as staff see it (drafts and stock figures included)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status

from agora.identity.deps import StaffUserId
from agora.identity.routing import TokenFirstRoute
from agora.platform.db import INTEGER_MAX
from agora.platform.deps import PlatformDep, PublicUrl, UnitOfWorkDep
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.platform.wire import NoNul
from agora.shop.catalog import categories, images, products, variants
from agora.shop.catalog.models import ALT_MAX
from agora.shop.catalog.queries import staff_product_detail
from agora.shop.catalog.schemas import (
    CategoryChange,
    CategoryOut,
    MoneyIn,
    NewCategory,
    NewProduct,
    NewVariant,
    ProductChange,
    Sku,
    Slug,
    StaffProductDetail,
    StockChange,
    VariantChange,
)

router = APIRouter(prefix="/api/shop", tags=["shop staff"], route_class=TokenFirstRoute)

ProductSlug = Annotated[Slug, Path(description="The product's slug")]
CategorySlug = Annotated[Slug, Path(description="The category's slug")]
SkuPath = Annotated[Sku, Path(description="The variant's SKU")]
ImageId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]
STAFF_ERRORS = (401, 403, 404, 409, 422)


# --- categories -------------------------------------------------------------------------------


@router.post(
    "/categories",
    status_code=status.HTTP_201_CREATED,
    summary="Create a category (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def create_category(body: NewCategory, uow: UnitOfWorkDep, _: StaffUserId) -> CategoryOut:
    return await categories.create_category(uow=uow, body=body)


@router.patch(
    "/categories/{slug}",
    summary="Rename or move a category (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def change_category(
    slug: CategorySlug, body: CategoryChange, uow: UnitOfWorkDep, _: StaffUserId
) -> CategoryOut:
    return await categories.change_category(uow=uow, slug=slug, body=body)


@router.delete(
    "/categories/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an empty category (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def delete_category(slug: CategorySlug, uow: UnitOfWorkDep, _: StaffUserId) -> Response:
    await categories.delete_category(uow=uow, slug=slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- products ---------------------------------------------------------------------------------


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    summary="Create a product, with its variants (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def create_product(
    body: NewProduct, uow: UnitOfWorkDep, _: StaffUserId
) -> StaffProductDetail:
    return await products.create_product(uow=uow, body=body)


@router.get(
    "/products/{slug}/staff",
    summary="A product as staff see it: drafts too, and the stock figures (staff)",
    responses=errors(401, 403, 404, 422),
)
async def staff_view(slug: ProductSlug, uow: UnitOfWorkDep, _: StaffUserId) -> StaffProductDetail:
    return await staff_product_detail(uow.session, slug=slug)


@router.patch(
    "/products/{slug}",
    summary="Change a product's name, slug, description, category or popularity (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def change_product(
    slug: ProductSlug, body: ProductChange, uow: UnitOfWorkDep, _: StaffUserId
) -> StaffProductDetail:
    return await products.change_product(uow=uow, slug=slug, body=body)


@router.post(
    "/products/{slug}/publish",
    summary="Show a product to customers (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def publish(slug: ProductSlug, uow: UnitOfWorkDep, _: StaffUserId) -> StaffProductDetail:
    return await products.set_published(uow=uow, slug=slug, published=True)


@router.post(
    "/products/{slug}/unpublish",
    summary="Take a product back to draft (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def unpublish(slug: ProductSlug, uow: UnitOfWorkDep, _: StaffUserId) -> StaffProductDetail:
    return await products.set_published(uow=uow, slug=slug, published=False)


@router.delete(
    "/products/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a product no order refers to (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def delete_product(slug: ProductSlug, uow: UnitOfWorkDep, _: StaffUserId) -> Response:
    await products.delete_product(uow=uow, slug=slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- variants, prices, stock ------------------------------------------------------------------


@router.post(
    "/products/{slug}/variants",
    status_code=status.HTTP_201_CREATED,
    summary="Add a variant to a product (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def add_variant(
    slug: ProductSlug, body: NewVariant, uow: UnitOfWorkDep, _: StaffUserId
) -> StaffProductDetail:
    return await variants.add_variant(uow=uow, slug=slug, body=body)


@router.patch(
    "/variants/{sku}",
    summary="Change a variant's title, option values or position (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def change_variant(
    sku: SkuPath, body: VariantChange, uow: UnitOfWorkDep, _: StaffUserId
) -> StaffProductDetail:
    return await variants.change_variant(uow=uow, sku=sku, body=body)


@router.put(
    "/variants/{sku}/price",
    summary="Set a variant's price (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def set_price(
    sku: SkuPath, body: MoneyIn, uow: UnitOfWorkDep, _: StaffUserId
) -> StaffProductDetail:
    return await variants.set_price(uow=uow, sku=sku, body=body)


@router.put(
    "/variants/{sku}/stock",
    summary="Set what the warehouse holds of a variant (staff); not below what orders reserved",
    responses=errors(*STAFF_ERRORS),
)
async def set_stock(
    sku: SkuPath, body: StockChange, uow: UnitOfWorkDep, _: StaffUserId
) -> StaffProductDetail:
    return await variants.set_stock(uow=uow, sku=sku, body=body)


@router.delete(
    "/variants/{sku}",
    summary="Delete a variant no order refers to (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def delete_variant(sku: SkuPath, uow: UnitOfWorkDep, _: StaffUserId) -> StaffProductDetail:
    return await variants.delete_variant(uow=uow, sku=sku)


# --- images -----------------------------------------------------------------------------------

_IMAGE_TYPES = {"image": {"contentType": "image/png, image/jpeg, image/webp"}}


@router.post(
    "/products/{slug}/images",
    status_code=status.HTTP_201_CREATED,
    summary="Add a picture to a product: PNG, JPEG or WebP (staff)",
    responses=errors(401, 403, 404, 409, 413, 415, 422),
    openapi_extra={"requestBody": {"content": {"multipart/form-data": {"encoding": _IMAGE_TYPES}}}},
)
async def add_image(
    slug: ProductSlug,
    image: Annotated[UploadFile, File(description="The picture (what its bytes are decides)")],
    uow: UnitOfWorkDep,
    platform: PlatformDep,
    public_url: PublicUrl,
    _: StaffUserId,
    alt: Annotated[str, Form(max_length=ALT_MAX), NoNul] = "",
) -> StaffProductDetail:
    limit = platform.settings.avatar_max_bytes
    return await images.add_image(
        uow=uow,
        storage=platform.storage,
        slug=slug,
        data=await image.read(limit + 1),
        alt=alt,
        max_bytes=limit,
        base_url=public_url,
    )


@router.delete(
    "/products/{slug}/images/{image_id}",
    summary="Remove a product's picture (staff)",
    responses=errors(*STAFF_ERRORS),
)
async def delete_image(
    slug: ProductSlug,
    image_id: ImageId,
    uow: UnitOfWorkDep,
    platform: PlatformDep,
    _: StaffUserId,
) -> StaffProductDetail:
    return await images.delete_image(
        uow=uow, storage=platform.storage, slug=slug, image_id=image_id
    )


api = Api(router, errors=PROBLEM_DETAILS)
