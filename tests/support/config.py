"""The test tier, and the settings of an app under test.

SQLite and the in-process cache by default; PostgreSQL, Redis and RabbitMQ when
``AGORA_TEST_DATABASE_URL`` / ``AGORA_TEST_REDIS_URL`` / ``AGORA_TEST_BROKER_URL`` are set (CI's
second tier sets all three).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agora.settings import JobsSettings, Settings

TEST_DATABASE_URL = os.environ.get("AGORA_TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL") or None
# RabbitMQ for the jobs' production path; its tests are skipped without it
TEST_BROKER_URL = os.environ.get("AGORA_TEST_BROKER_URL") or None
TEST_JWT_SECRET = "test-secret-" + "x" * 32
# Argon2id at its cheapest: the tests are about what hashing does, not what it costs (the
# default cost takes ~0.1 s a hash, and the suite registers and logs in hundreds of users)
CHEAP_PASSWORD_HASHING: dict[str, Any] = {
    "password_memory_kib": 8,
    "password_time_cost": 1,
    "password_parallelism": 1,
}


def settings_under_test(workdir: Path, *, database_url: str, **overrides: Any) -> Settings:
    """Settings for an app under test on ``database_url``, its files under ``workdir``."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "redis_url": TEST_REDIS_URL,
        "jwt_secret": TEST_JWT_SECRET,
        "media_dir": workdir / "media",
        "mail_dir": workdir / "mail",
        "public_url": "http://test",
        "rate_limits_enabled": False,
        "log_json": True,
        "access_log": False,
        **CHEAP_PASSWORD_HASHING,
        # the hourly purges would add their first occurrences to every test's outbox
        "jobs": JobsSettings(housekeeping=False),
        **overrides,
    }
    return Settings(**values)
