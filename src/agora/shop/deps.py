"""What the shop's routes are handed by the composition root."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from agora.platform.provided import Provided
from agora.shop.reads import ShopReads


class ShopServices(Protocol):
    """What the shop needs from the composition root."""

    @property
    def shop_reads(self) -> ShopReads: ...


SHOP: Provided[ShopServices] = Provided("the shop's services")


# `async def` although nothing is awaited: FastAPI would run a plain `def` in a worker thread.
async def get_shop_reads(request: Request) -> ShopReads:
    return SHOP.of(request.app).shop_reads


ShopReadsDep = Annotated[ShopReads, Depends(get_shop_reads)]
