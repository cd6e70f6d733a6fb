"""Every model, imported so that ``Base.metadata`` knows all tables (for Alembic and tests)."""

from agora.blog import models as blog_models
from agora.chat import models as chat_models
from agora.identity import models as identity_models
from agora.platform import outbox as platform_outbox
from agora.platform.db import Base
from agora.platform.jobs import handlers as platform_jobs
from agora.platform.jobs import schedule as platform_schedule
from agora.shop.cart import models as shop_cart_models
from agora.shop.catalog import models as shop_catalog_models
from agora.shop.orders import models as shop_order_models
from agora.shop.search import models as shop_search_models
from agora.shop.search.index import outside_the_models

target_metadata = Base.metadata


def include_object(
    _object: object, name: str | None, _type: str, _reflected: bool, _compare_to: object
) -> bool:
    """What Alembic compares: everything but the search's full-text indexes, which each database
    builds its own way and no model describes (``agora.shop.search.index``)."""
    return not outside_the_models(name)


__all__ = [
    "blog_models",
    "chat_models",
    "identity_models",
    "include_object",
    "platform_jobs",
    "platform_outbox",
    "platform_schedule",
    "shop_cart_models",
    "shop_catalog_models",
    "shop_order_models",
    "shop_search_models",
    "target_metadata",
]
