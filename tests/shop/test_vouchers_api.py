"""Staff create vouchers; incoherent terms and taken codes are refused clearly."""

from __future__ import annotations

from typing import Any

import pytest

from tests.shop.conftest import Shopper, problem


async def test_staff_create_and_list_vouchers(staff: Shopper) -> None:
    created = await staff.ok(
        "POST",
        "/staff/vouchers",
        201,
        json={
            "code": "winter",
            "kind": "fixed",
            "value": 500,
            "currency": "EUR",
            "minimum": 2000,
            "expiresAt": "2030-01-01T00:00:00Z",
            "usageLimit": 100,
        },
    )

    assert created["code"] == "WINTER"
    assert created["uses"] == 0
    listed = await staff.ok("GET", "/staff/vouchers")
    assert [v["code"] for v in listed] == ["WINTER"]
    assert listed[0]["expiresAt"] == "2030-01-01T00:00:00.000Z"
    assert (await staff.ok("GET", "/staff/vouchers", params={"after": created["id"]})) == []
    taken = problem(
        await staff.call(
            "POST", "/staff/vouchers", json={"code": "Winter", "kind": "percentage", "value": 10}
        ),
        409,
    )
    assert taken["errors"] == [{"field": "code", "detail": "has already been taken"}]


@pytest.mark.parametrize(
    "voucher",
    [
        {"code": "A", "kind": "percentage", "value": 10001},
        {"code": "A", "kind": "percentage", "value": 0},
        {"code": "A", "kind": "fixed", "value": 100},
        {"code": "A", "kind": "fixed", "value": 100, "currency": "XYZ"},
        {"code": "A", "kind": "percentage", "value": 10, "minimum": 100},
        {"code": "A", "kind": "bogus", "value": 10},
        {"code": "A", "kind": "percentage", "value": 10, "usageLimit": 0},
        {"code": "A", "kind": "percentage", "value": 10, "expiresAt": "2030-01-01T00:00:00"},
        {"code": "", "kind": "percentage", "value": 10},
        {"code": "x" * 41, "kind": "percentage", "value": 10},
    ],
)
async def test_incoherent_vouchers_are_refused(staff: Shopper, voucher: dict[str, Any]) -> None:
    problem(await staff.call("POST", "/staff/vouchers", json=voucher), 422)
    assert await staff.ok("GET", "/staff/vouchers") == []


async def test_a_refusal_says_what_is_missing(staff: Shopper) -> None:
    body = problem(
        await staff.call(
            "POST", "/staff/vouchers", json={"code": "A", "kind": "fixed", "value": 1}
        ),
        422,
    )
    assert body["detail"] == "body a fixed voucher needs a currency"
