"""Configuration from ``AGORA_*``: parsing, and refusing to run production with a weak secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict

from agora.settings import DEVELOPMENT_JWT_SECRET, Environment, Settings, SettingsGroup

STRONG_SECRET = "s" * 32
AGORA_CLI = Path(sys.executable).with_name("agora")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``AGORA_*`` variable or ``.env`` file of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("AGORA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def build(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_development_runs_with_the_built_in_secret() -> None:
    settings = build()

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET


@pytest.mark.parametrize(
    "secret",
    [None, DEVELOPMENT_JWT_SECRET, "short", "x" * 31],
    ids=["default", "development-secret", "short", "31-characters"],
)
def test_production_refuses_a_default_or_short_secret(secret: str | None) -> None:
    values: dict[str, Any] = {"environment": "production"}
    if secret is not None:
        values["jwt_secret"] = secret

    with pytest.raises(ValidationError, match="AGORA_JWT_SECRET"):
        build(**values)


def test_production_accepts_a_long_random_secret() -> None:
    settings = build(environment="production", jwt_secret=STRONG_SECRET)

    assert settings.environment is Environment.PRODUCTION
    assert settings.jwt_secret.get_secret_value() == STRONG_SECRET


@pytest.mark.parametrize(
    ("memory_kib", "time_cost"),
    [(8, 1), (19456, 1), (7168, 4)],
    ids=["cheapest", "owasp-memory-one-pass", "just-under-owasp"],
)
def test_production_refuses_a_password_cost_under_owasps_minimum(
    memory_kib: int, time_cost: int
) -> None:
    with pytest.raises(ValidationError, match="AGORA_PASSWORD_MEMORY_KIB"):
        build(
            environment="production",
            jwt_secret=STRONG_SECRET,
            password_memory_kib=memory_kib,
            password_time_cost=time_cost,
        )


@pytest.mark.parametrize(
    ("memory_kib", "time_cost"), [(19456, 2), (47104, 1), (7168, 5), (65536, 3)]
)
def test_production_accepts_owasps_configurations(memory_kib: int, time_cost: int) -> None:
    settings = build(
        environment="production",
        jwt_secret=STRONG_SECRET,
        password_memory_kib=memory_kib,
        password_time_cost=time_cost,
    )

    assert settings.password_memory_kib * settings.password_time_cost >= 7168 * 5


def test_argon2_needs_8_kib_per_lane() -> None:
    with pytest.raises(ValidationError, match="8 × AGORA_PASSWORD_PARALLELISM"):
        build(password_memory_kib=16, password_parallelism=4)


def test_the_secret_is_never_shown() -> None:
    settings = build(environment="production", jwt_secret=STRONG_SECRET)

    assert STRONG_SECRET not in repr(settings)
    assert STRONG_SECRET not in str(settings.model_dump())


def test_settings_come_from_agora_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_ENVIRONMENT", "production")
    monkeypatch.setenv("AGORA_JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("AGORA_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("AGORA_RATE_LIMITS_ENABLED", "false")
    monkeypatch.setenv("AGORA_REDIS_URL", "redis://cache:6379/0")

    settings = build()

    assert settings.environment is Environment.PRODUCTION
    assert settings.max_body_bytes == 4096
    assert settings.rate_limits_enabled is False
    assert settings.redis_url == "redis://cache:6379/0"


def test_the_production_check_applies_to_variables_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_ENVIRONMENT", "production")

    with pytest.raises(ValidationError, match="AGORA_JWT_SECRET"):
        build()


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"AGORA_ENVIRONMENT=production\nAGORA_JWT_SECRET={STRONG_SECRET}\n", encoding="utf-8"
    )

    settings = Settings()

    assert settings.environment is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,b", ["a", "b"]),
        (
            "https://app.example, https://admin.example ",
            ["https://app.example", "https://admin.example"],
        ),
        ("https://only.example", ["https://only.example"]),
        ("*", ["*"]),
        ("a,,b,", ["a", "b"]),
    ],
)
def test_cors_origins_are_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("AGORA_CORS_ORIGINS", value)

    assert build().cors_origins == expected


def test_cors_origins_also_take_a_list() -> None:
    assert build(cors_origins=["https://app.example"]).cors_origins == ["https://app.example"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGORA_MAX_BODY_BYTES", "10"),
        ("AGORA_JWT_TTL_SECONDS", "5"),
        ("AGORA_ENVIRONMENT", "staging"),
        ("AGORA_DATABASE_POOL_SIZE", "0"),
        ("AGORA_REDIS_NAMESPACE", ""),
        ("AGORA_REDIS_NAMESPACE", "two words"),
        ("AGORA_PASSWORD_TIME_COST", "0"),
        ("AGORA_PASSWORD_MEMORY_KIB", "99999999"),
    ],
)
def test_nonsense_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        build()


def test_serve_refuses_to_start_in_production_without_a_secret(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    environment["AGORA_ENVIRONMENT"] = "production"
    environment["AGORA_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"

    result = subprocess.run(
        [str(AGORA_CLI), "serve", "--port", "1"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode != 0
    assert "AGORA_JWT_SECRET" in result.stderr
    assert "production" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "never.db").exists()


# --- a context's own group of settings (the pattern for AGORA_JOBS_…, AGORA_SHOP_…) -------------


class ShopSettings(SettingsGroup):
    model_config = SettingsConfigDict(env_prefix="AGORA_SHOP_")

    reservation_minutes: int = Field(default=15, ge=1)


class SettingsWithAShop(Settings):
    shop: ShopSettings = Field(default_factory=ShopSettings)


def test_a_contexts_group_reads_variables_of_its_own_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGORA_SHOP_RESERVATION_MINUTES", "30")
    monkeypatch.setenv("AGORA_MAX_BODY_BYTES", "4096")

    settings = SettingsWithAShop()

    assert settings.shop.reservation_minutes == 30
    assert settings.max_body_bytes == 4096  # the ungrouped names are unchanged
    assert SettingsWithAShop(shop=ShopSettings(reservation_minutes=5)).shop.reservation_minutes == 5
    (tmp_path / ".env").write_text("AGORA_SHOP_RESERVATION_MINUTES=45\n", encoding="utf-8")
    monkeypatch.delenv("AGORA_SHOP_RESERVATION_MINUTES")
    assert SettingsWithAShop().shop.reservation_minutes == 45


def test_a_contexts_group_refuses_bad_values_like_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_SHOP_RESERVATION_MINUTES", "0")

    with pytest.raises(ValidationError, match="reservation_minutes"):
        SettingsWithAShop()
