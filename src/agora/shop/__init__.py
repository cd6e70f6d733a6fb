"""The shop: a catalog with search, carts, checkout and orders.

One sub-package per concept: ``catalog`` (categories, products, variants, stock, prices, images),
``search`` (full text and facets over the catalog), ``cart`` and ``orders``. It imports only the
platform and identity; the other products hear from it through events and outbox topics.
"""
