"""The order life cycle without a database: every allowed move, every refused one, the records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agora.platform.errors import Conflict, Forbidden
from agora.shop.orders.state_machine import (
    FINAL,
    TRANSITIONS,
    Actor,
    OrderStatus,
    placed,
    transition,
)

S = OrderStatus
NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
STAFF = Actor.staff(1)
CUSTOMER = Actor.customer(2)
ALLOWED = {(a, b) for a, onward in TRANSITIONS.items() for b in onward}


def test_the_happy_path_leaves_a_record_per_step() -> None:
    history = [placed(actor=CUSTOMER, at=NOW)]
    for target in (S.PAID, S.FULFILLED, S.DELIVERED, S.REFUNDED):
        history.append(
            transition(history[-1].to_status, target, actor=STAFF, reason="by hand", at=NOW)
        )
    assert [(r.from_status, r.to_status) for r in history] == [
        (None, S.PENDING_PAYMENT),
        (S.PENDING_PAYMENT, S.PAID),
        (S.PAID, S.FULFILLED),
        (S.FULFILLED, S.DELIVERED),
        (S.DELIVERED, S.REFUNDED),
    ]
    assert all(r.at == NOW for r in history)
    assert history[1].actor == STAFF
    assert history[1].reason == "by hand"


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_staff_may_make_every_move_of_the_graph(current: S, target: S) -> None:
    record = transition(current, target, actor=STAFF, reason=None, at=NOW)
    assert (record.from_status, record.to_status) == (current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    sorted((a, b) for a in S for b in S if (a, b) not in ALLOWED),
)
def test_a_move_outside_the_graph_is_a_conflict(current: S, target: S) -> None:
    with pytest.raises(Conflict, match=f"cannot go from {current} to {target}"):
        transition(current, target, actor=STAFF, reason=None, at=NOW)


def test_final_states_are_cancelled_and_refunded() -> None:
    assert {S.CANCELLED, S.REFUNDED} == FINAL


def test_a_customer_may_only_cancel_while_payment_is_pending() -> None:
    record = transition(S.PENDING_PAYMENT, S.CANCELLED, actor=CUSTOMER, reason="oops", at=NOW)
    assert record.actor == CUSTOMER
    assert record.reason == "oops"
    with pytest.raises(Forbidden):
        transition(S.PENDING_PAYMENT, S.PAID, actor=CUSTOMER, reason=None, at=NOW)
    with pytest.raises(Conflict):
        transition(S.PAID, S.CANCELLED, actor=CUSTOMER, reason=None, at=NOW)


@given(st.lists(st.sampled_from(list(S)), max_size=30), st.booleans())
def test_no_sequence_of_attempts_leaves_the_graph(targets: list[S], staff: bool) -> None:
    actor = STAFF if staff else CUSTOMER
    current = placed(actor=actor, at=NOW).to_status
    for target in targets:
        try:
            record = transition(current, target, actor=actor, reason=None, at=NOW)
        except (Conflict, Forbidden):
            continue
        assert (current, record.to_status) in ALLOWED
        current = record.to_status
    assert current in TRANSITIONS
