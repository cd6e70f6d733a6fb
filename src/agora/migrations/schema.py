"""Every model, imported so that ``Base.metadata`` knows all tables (for Alembic and tests)."""

from agora.blog import models as blog_models
from agora.identity import models as identity_models
from agora.platform import outbox as platform_outbox
from agora.platform.db import Base

target_metadata = Base.metadata

__all__ = ["blog_models", "identity_models", "platform_outbox", "target_metadata"]
