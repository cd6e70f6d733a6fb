"""The file storage port: where uploaded files live and the URL that serves them.

A disk that refuses a write (full, read-only, failing) is the server's trouble: ``save`` answers
it with ``Unavailable`` (503), before anything is committed. ``delete`` only cleans up after a
change that is already committed, so it logs a failure and carries on: a file left behind costs
some disk, a failed answer to a committed change costs a client's retry.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Protocol

import structlog

from agora.platform.errors import Unavailable

log = structlog.get_logger("agora.storage")

# seconds before trying again after the disk refused a write
RETRY_AFTER_SECONDS = 30


class FileStorage(Protocol):
    async def save(self, key: str, data: bytes, *, base_url: str) -> str:
        """Store ``data`` under ``key`` (a relative path) and return the public URL.

        ``base_url`` is where clients reach this server, for a storage the server itself serves.
        """
        ...

    async def delete(self, key: str) -> None: ...


class LocalFileStorage:
    """A directory on disk, served by the app under ``url_prefix``."""

    def __init__(self, root: Path, *, url_prefix: str) -> None:
        self.root = root
        self.url_prefix = url_prefix.rstrip("/")
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    async def save(self, key: str, data: bytes, *, base_url: str) -> str:
        try:
            await asyncio.to_thread(self._write, self._path(key), data)
        except OSError as exc:
            log.error("storage refused a write", key=key, error=repr(exc))
            raise Unavailable(
                "the file could not be stored for now; try again later",
                retry_after=RETRY_AFTER_SECONDS,
            ) from exc
        return f"{base_url.rstrip('/')}{self.url_prefix}/{key}"

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
        except OSError as exc:
            log.warning("storage could not delete a file", key=key, error=repr(exc))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename, so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
