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

target_metadata = Base.metadata

__all__ = [
    "blog_models",
    "chat_models",
    "identity_models",
    "platform_jobs",
    "platform_outbox",
    "platform_schedule",
    "shop_cart_models",
    "shop_catalog_models",
    "shop_order_models",
    "target_metadata",
]
