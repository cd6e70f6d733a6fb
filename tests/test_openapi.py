"""The published OpenAPI document is complete and true.

* ``/openapi.json`` lists every route of the RealWorld spec (``current/openapi.yml``) under ``/api``
  with its method, the spec's success status and response, and the errors the route can give, all
  in the ``{"errors": {...}}`` shape the error handler really sends.
* Schemathesis generates requests from that document against the in-process app: no answer is a
  5xx, and every answer has a documented status, content type and body schema. A signed-in user's
  token is sent, so the operations that need one are exercised past the 401.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from httpx import AsyncClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agora.app import create_app
from agora.migrations.runner import upgrade
from agora.platform.container import Platform
from agora.settings import Environment, Settings
from tests.e2e.support import (
    JWT_SECRET,
    TEST_REDIS_URL,
    find_conformance_dir,
    fresh_database,
)

# Statuses the RealWorld spec lists on every operation, that these routes can never give.
NOT_GIVEN = {
    ("GET", "/user"): {422},  # no parameters and no body to be invalid
    ("GET", "/tags"): {422},
    ("POST", "/articles"): {409},  # duplicate titles are allowed: the slug gets a suffix
}
GENERIC_ERROR = "#/components/schemas/GenericError"


def _template(path: str) -> str:
    """``/articles/{slug}/comments/{id}`` and ``.../{comment_id}`` are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def realworld_spec() -> dict[str, Any]:
    folder = find_conformance_dir()
    if folder is None:
        pytest.skip("the RealWorld conformance folder (shared/conformance/realworld) was not found")
    spec: dict[str, Any] = yaml.safe_load((folder / "current" / "openapi.yml").read_text())
    return spec


async def test_every_realworld_route_is_documented(
    client: AsyncClient, realworld_spec: dict[str, Any]
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    ours: dict[str, Any] = response.json()
    operations = {
        (method.upper(), _template(path)): operation
        for path, methods in ours["paths"].items()
        for method, operation in methods.items()
    }
    assert "HTTPValidationError" not in response.text, "a 422 is documented in FastAPI's shape"

    checked = 0
    for path, methods in realworld_spec["paths"].items():
        for method, spec_operation in methods.items():
            if method not in {"get", "post", "put", "delete"}:
                continue
            key = (method.upper(), _template("/api" + path))
            assert key in operations, f"{method.upper()} /api{path} is not in /openapi.json"
            documented = operations[key]["responses"]
            where = f"{method.upper()} /api{path}"

            spec_responses: dict[str, Any] = spec_operation["responses"]
            success = [code for code in spec_responses if code.startswith("2")]
            assert success == [code for code in documented if code.startswith("2")], where
            content = documented[success[0]].get("content", {})
            spec_response = _name(spec_responses[success[0]]["$ref"])
            if spec_response == "EmptyOkResponse":
                assert not content, f"{where}: {success[0]} has no body"
            else:
                schema = content["application/json"]["schema"]
                assert _name(schema["$ref"]) == spec_response, where

            errors = {int(code) for code in spec_responses if not code.startswith("2")}
            expected = errors - NOT_GIVEN.get((method.upper(), path), set())
            if spec_operation.get("security"):
                expected.add(401)
            missing = expected - {int(code) for code in documented}
            assert not missing, f"{where} does not document {sorted(missing)}"
            for code, answer in documented.items():
                if code.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": GENERIC_ERROR}, f"{where} {code}: {schema}"
            checked += 1
    assert checked == 19


# --- robustness: schemathesis against the in-process app -----------------------------------------
#
# Schemathesis' own pytest integration (``schemathesis.pytest.from_fixture``) does not work with
# pytest 9 yet, so its strategies are driven by Hypothesis here, one subtest per operation.

EXAMPLES_PER_OPERATION = 25  # shared by the four strategies below; derandomized
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Api:
    schema: schemathesis.BaseSchema
    client: asgi.ASGIClient
    token: str
    other_username: str

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def existing_resources(self) -> dict[str, Any]:
        """Path parameters that name things that exist: a new article with a comment, a user."""
        article = self.client.post(
            "/api/articles",
            json={
                "article": {
                    "title": f"Fuzz {uuid.uuid4().hex[:8]}",
                    "description": "d",
                    "body": "b",
                }
            },
            headers=self.auth(),
        )
        assert article.status_code == 201, article.text
        slug = article.json()["article"]["slug"]
        comment = self.client.post(
            f"/api/articles/{slug}/comments", json={"comment": {"body": "c"}}, headers=self.auth()
        )
        assert comment.status_code == 201, comment.text
        return {
            "slug": slug,
            "comment_id": comment.json()["comment"]["id"],
            "username": self.other_username,
        }


def _register(client: asgi.ASGIClient, username: str) -> str:
    user = {"username": username, "email": f"{username}@example.com", "password": "password123"}
    response = client.post("/api/users", json={"user": user})
    assert response.status_code == 201, response.text
    token: str = response.json()["user"]["token"]
    return token


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The app on a new database, loaded by schemathesis, and a signed-in user."""
    with fresh_database(tmp_path) as database_url:
        upgrade(database_url)
        app_settings = Settings(
            environment=Environment.TEST,
            database_url=database_url,
            redis_url=TEST_REDIS_URL,
            jwt_secret=SecretStr(JWT_SECRET),
            media_dir=tmp_path / "media",
            public_url="http://testserver",
            rate_limits_enabled=False,
            access_log=False,
            redis_namespace=f"agora-test-{uuid.uuid4().hex}",
        )
        platform = Platform.from_settings(app_settings)
        app = create_app(app_settings, platform=platform)
        try:
            # schemathesis runs the app (and its lifespan) on an event loop of its own
            loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
            with asgi.get_client(app) as client:
                token = _register(client, "fuzz")
                _register(client, "other")
                yield Api(schema=loaded, client=client, token=token, other_username="other")
        finally:
            asgi.shutdown_lifespans()  # closes the app's pools before its database is dropped


def _exercise(api: Api, operation: APIOperation) -> set[int]:
    """Runs the generated cases for one operation; returns the statuses they got."""
    path_names = {parameter.name for parameter in operation.path_parameters}
    known = {k: v for k, v in api.existing_resources().items() if k in path_names}
    # generated path parameters mostly name nothing (404); known ones reach the real work
    variants: list[dict[str, Any]] = [{}, {"path_parameters": known}] if known else [{}]
    strategies = [
        operation.as_strategy(mode, **variant) for mode in GenerationMode for variant in variants
    ]
    statuses: set[int] = set()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=api.auth(), checks=CHECKS)
        statuses.add(response.status_code)

    run()
    return statuses


def test_api_keeps_its_documented_contract(api: Api, subtests: pytest.Subtests) -> None:
    operations = [result.ok() for result in api.schema.get_all_operations()]
    assert len(operations) >= 19
    for operation in operations:
        with subtests.test(msg=operation.label):
            statuses = _exercise(api, operation)
            # the token is valid, so every operation was exercised past authentication
            assert statuses - {401}, f"{operation.label} only ever answered {sorted(statuses)}"
