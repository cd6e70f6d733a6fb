"""Agora: one Python service, one identity — a RealWorld blog, a shop and a distributed chat."""

__version__ = "0.1.0"
