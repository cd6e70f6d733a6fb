"""The checkout's configuration, built once from settings by the composition root, and what the
checkout's routes are handed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends

from agora.platform.provided import Provided
from agora.settings import ShopCheckoutSettings
from agora.shop.checkout.shipping import DEFAULT_SHIPPING, ShippingConfig


@dataclass(frozen=True, slots=True)
class CheckoutConfig:
    shipping: ShippingConfig
    tax_rate_basis_points: int

    @classmethod
    def from_settings(cls, settings: ShopCheckoutSettings) -> CheckoutConfig:
        """Raises ``pydantic.ValidationError`` at start-up for a shipping table that does not
        hold together, instead of at some customer's checkout."""
        shipping = (
            DEFAULT_SHIPPING
            if settings.shipping is None
            else ShippingConfig.model_validate(settings.shipping)
        )
        return cls(shipping=shipping, tax_rate_basis_points=settings.tax_rate_basis_points)


class CheckoutServices(Protocol):
    @property
    def checkout_config(self) -> CheckoutConfig: ...


SHOP_CHECKOUT: Provided[CheckoutServices] = Provided("the checkout's configuration")


async def get_checkout_config(
    services: Annotated[CheckoutServices, Depends(SHOP_CHECKOUT.get)],
) -> CheckoutConfig:
    return services.checkout_config


CheckoutConfigDep = Annotated[CheckoutConfig, Depends(get_checkout_config)]
