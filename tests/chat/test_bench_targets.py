"""The chat benchmark judges the issue's targets on a run's own figures (``bench.chat.checks``):
a scenario in which Agora held no step is a miss, whatever the peers did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.chat import checks
from bench.report import Check


def _run(delivered_per_s: float, *, ok: bool) -> dict[str, Any]:
    step = {"label": "1.0/s", "delivered_per_s": delivered_per_s, "ok": ok}
    return {"steps": [step | {"p99_ms": 100.0 if ok else 900.0, "lost": 0}]}


def _b_check(results: Path, agora: dict[str, Any], peer: dict[str, Any]) -> Check:
    (results / "agora-B.json").write_text(json.dumps(agora), encoding="utf-8")
    (results / "socketio-B.json").write_text(json.dumps(peer), encoding="utf-8")
    (check,) = [c for c in checks(results) if isinstance(c, Check) and c.target.startswith("B")]
    return check


def test_holding_no_step_is_a_miss_even_when_the_peer_held_none(tmp_path: Path) -> None:
    assert not _b_check(tmp_path, _run(1000, ok=False), _run(1000, ok=False)).passed


def test_three_times_the_best_peer_is_a_pass_and_less_is_a_miss(tmp_path: Path) -> None:
    assert _b_check(tmp_path, _run(6000, ok=True), _run(2000, ok=True)).passed
    assert not _b_check(tmp_path, _run(4000, ok=True), _run(2000, ok=True)).passed
