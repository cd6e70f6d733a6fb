"""What the blog's routes are handed: its read side, bound once by the composition root."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from agora.blog.reads import BlogReads
from agora.platform.provided import Provided


class BlogServices(Protocol):
    """What the blog's routes need from the composition root."""

    @property
    def blog_reads(self) -> BlogReads: ...


BLOG: Provided[BlogServices] = Provided("the blog's services")


# `async def` although nothing is awaited: FastAPI would run a plain `def` in a worker thread.
async def get_blog_reads(request: Request) -> BlogReads:
    return BLOG.of(request.app).blog_reads


BlogReadsDep = Annotated[BlogReads, Depends(get_blog_reads)]
