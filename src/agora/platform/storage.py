"""The file storage port: where uploaded files live and the URL that serves them."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Protocol


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
        await asyncio.to_thread(self._write, self._path(key), data)
        return f"{base_url.rstrip('/')}{self.url_prefix}/{key}"

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename, so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
