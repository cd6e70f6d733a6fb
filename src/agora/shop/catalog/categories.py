"""The category tree: staff create, rename, move and delete categories; anyone reads the tree.

A category's ``path`` lists the ids from the root down to it (``/1/5/12/``), so "this category
and everything below it" is one range of an indexed column (``subtree``), the same SQL on
PostgreSQL and SQLite; moving a category rewrites its subtree's paths in one ``UPDATE``.
"""

from __future__ import annotations

from sqlalchemy import SQLColumnExpression, exists, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from agora.platform.errors import Conflict, Invalid, NotFound
from agora.platform.uow import UnitOfWork
from agora.shop.catalog.events import CatalogChanged
from agora.shop.catalog.locks import lock
from agora.shop.catalog.models import PATH_MAX, Category, Product
from agora.shop.catalog.schemas import CategoryChange, CategoryOut, NewCategory
from agora.shop.catalog.slugs import slug_from


def subtree(path: str) -> tuple[str, str]:
    """The bounds of the paths at and below ``path``: ``low <= path < high``. A path ends with
    '/', and '0', the next character, sorts after '/' and before every digit's successor."""
    return path, path[:-1] + "0"


def in_subtree(column: SQLColumnExpression[str], path: str) -> ColumnElement[bool]:
    low, high = subtree(path)
    return (column >= low) & (column < high)


def depth_of(path: str) -> int:
    return path.count("/") - 2


def category_out(category: Category, parent_slug: str | None) -> CategoryOut:
    return CategoryOut(
        id=category.id,
        slug=category.slug,
        name=category.name,
        parent=parent_slug,
        depth=depth_of(category.path),
        position=category.position,
    )


async def category_by_slug(session: AsyncSession, slug: str, *, field: str) -> Category:
    category = await session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound("not found", field=field)
    return category


async def list_categories(session: AsyncSession) -> list[CategoryOut]:
    """The whole tree depth first, each parent before its children, siblings by position then
    name (the paths hold ids, so ordering by them would put '/10/' before '/2/')."""
    parent = aliased(Category)
    rows = await session.execute(
        select(Category, parent.slug).outerjoin(parent, parent.id == Category.parent_id)
    )
    children: dict[int | None, list[CategoryOut]] = {}
    for category, parent_slug in rows:
        out = category_out(category, parent_slug)
        children.setdefault(category.parent_id, []).append(out)
    ordered: list[CategoryOut] = []

    def visit(parent_id: int | None) -> None:
        for child in sorted(children.get(parent_id, []), key=lambda c: (c.position, c.name)):
            ordered.append(child)
            visit(child.id)

    visit(None)
    return ordered


async def _flush(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except IntegrityError:
        await uow.rollback()
        raise Conflict("has already been taken", field="slug") from None


async def _check_slug_free(session: AsyncSession, slug: str, *, but: int = 0) -> None:
    if await session.scalar(select(exists().where(Category.slug == slug, Category.id != but))):
        raise Conflict("has already been taken", field="slug")


def _checked_path(path: str) -> str:
    if len(path) > PATH_MAX:
        raise Invalid("makes the tree too deep", field="parent")
    return path


async def _path_of(session: AsyncSession, category_id: int) -> str:
    path = await session.scalar(select(Category.path).where(Category.id == category_id))
    if path is None:  # deleted meanwhile
        raise NotFound("not found", field="parent")
    return path


async def create_category(*, uow: UnitOfWork, body: NewCategory) -> CategoryOut:
    session = uow.session
    slug = body.slug or slug_from(body.name)
    await _check_slug_free(session, slug)
    parent = None
    parent_path = "/"
    if body.parent is not None:
        parent = await category_by_slug(session, body.parent, field="parent")
        # a move of the parent waits for this child, or this child for the move (locks.py)
        await lock(session, Category, Category.id == parent.id)
        parent_path = await _path_of(session, parent.id)
    # the path needs the new id: insert with a placeholder unique to this row, then set it
    category = Category(
        slug=slug, name=body.name, parent_id=parent.id if parent else None, position=body.position
    )
    category.path = f"new:{slug}"
    session.add(category)
    await _flush(uow)
    category.path = _checked_path(f"{parent_path}{category.id}/")
    answer = category_out(category, parent.slug if parent else None)
    uow.emit(CatalogChanged())
    await uow.commit()
    return answer


async def change_category(*, uow: UnitOfWork, slug: str, body: CategoryChange) -> CategoryOut:
    session = uow.session
    category = await category_by_slug(session, slug, field="category")
    sent = body.model_fields_set
    if body.slug is not None and body.slug != category.slug:
        await _check_slug_free(session, body.slug, but=category.id)
        category.slug = body.slug
    if body.name is not None:
        category.name = body.name
    if body.position is not None:
        category.position = body.position
    parent_slug = None
    if "parent" in sent:
        parent_slug = await _move(session, category, body.parent)
    elif category.parent_id is not None:
        parent_slug = await session.scalar(
            select(Category.slug).where(Category.id == category.parent_id)
        )
    await _flush(uow)
    answer = category_out(category, parent_slug)
    uow.emit(CatalogChanged())
    await uow.commit()
    return answer


async def _move(session: AsyncSession, category: Category, parent_slug: str | None) -> str | None:
    """Puts ``category`` (and its subtree) under ``parent_slug``, or at the top for None.

    The subtree and the new parent are locked first (a child added meanwhile waits, or is
    waited for and then moved too: the paths are rewritten by a statement that starts after the
    lock), then their paths read again."""
    parent = None
    if parent_slug is not None:
        parent = await category_by_slug(session, parent_slug, field="parent")
    locked = in_subtree(Category.path, category.path)
    await lock(session, Category, locked | (Category.id == parent.id) if parent else locked)
    old_path = await _path_of(session, category.id)
    parent_path = "/" if parent is None else await _path_of(session, parent.id)
    low, high = subtree(old_path)
    if low <= parent_path < high:
        raise Invalid("can't be the category itself or one below it", field="parent")
    new_path = _checked_path(f"{parent_path}{category.id}/")
    if new_path != old_path:
        deepest = await session.scalar(
            select(func.max(func.length(Category.path))).where(in_subtree(Category.path, old_path))
        )
        if (deepest or 0) - len(old_path) + len(new_path) > PATH_MAX:
            raise Invalid("makes the tree too deep", field="parent")
        # every path below starts with the old one: swap that prefix for the new
        await session.execute(
            update(Category)
            .where(in_subtree(Category.path, old_path))
            .values(path=literal(new_path) + func.substr(Category.path, len(old_path) + 1))
            .execution_options(synchronize_session=False)
        )
        await session.refresh(category)
    category.parent_id = parent.id if parent else None
    return parent.slug if parent else None


async def delete_category(*, uow: UnitOfWork, slug: str) -> None:
    session = uow.session
    category = await category_by_slug(session, slug, field="category")
    if await session.scalar(select(exists().where(Category.parent_id == category.id))):
        raise Conflict("has categories below it: move or delete them first", field="category")
    if await session.scalar(select(exists().where(Product.category_id == category.id))):
        raise Conflict("has products: move or delete them first", field="category")
    await session.delete(category)
    try:
        await session.flush()
    except IntegrityError:  # a product or a child added meanwhile (the foreign key says so)
        await uow.rollback()
        raise Conflict("is in use: move what it holds first", field="category") from None
    uow.emit(CatalogChanged())
    await uow.commit()
