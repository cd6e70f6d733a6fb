"""The catalog: a category tree, products with variants (SKU, option values, price in minor units
of an ISO 4217 currency, stock), images; published or draft."""
