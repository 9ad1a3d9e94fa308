"""`fraudlog demo` end to end, as a new user runs it, on a small stream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run_demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`fraudlog demo` on a small stream, with this checkout's code (PYTHONPATH, when the tests run with one)."""
    source = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    result = subprocess.run(
        [sys.executable, "-m", "fraudlog.cli", "demo", "--rows", "1500", "--train-rows", "800", "--no-serve",
         "--port", "0", "--db", str(tmp_path / "demo.db")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **source},  # no COLUMNS: off a terminal the tables print whole
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_demo_scores_every_transaction(tmp_path: Path) -> None:
    out = run_demo(tmp_path).stdout
    assert (tmp_path / "demo.log").read_text().count('"logger":') > 0  # the log went to its file (issue 27 #15)
    assert re.search(r"transactions streamed\s+│\s+1,500", out), out
    assert re.search(r"transactions scored\s+│\s+1,500", out), out
    assert re.search(r"served ROC AUC \(the champions' scores\)\s+│\s+0\.\d+ on 1,500 labels", out), out
    assert re.search(r"│ v1\s+│ champion\s+│ 0\.\d+ \(1,500\)", out), out  # each version's AUC on what it scored
    # The truth came back by several sources (issue 29), and the effective labels are one per transaction.
    shown = labels_by_source(out)
    assert all(shown.get(source, (0,))[0] > 0 for source in ("customer", "chargeback", "import")), out
    assert shown["effective"][:3] == (1_500, shown["effective"][1], 1_500), out
    assert re.search(r"│ effective\s+│ 1,500 .*│ 0\.\d{4}\s+│", out), out  # the served ROC AUC on them
    assert_the_loop_learns_the_labels_shown(tmp_path, shown)


def labels_by_source(out: str) -> dict[str, tuple[int, int, int]]:
    """The summary's labels by source: source -> (labels, frauds, effective)."""
    rows = re.findall(r"│ (chargeback|analyst|customer|import|api|effective)\s+│ ([\d,]+)\s+│ ([\d,]+)\s+│ ([\d,]+) ",
                      out)
    return {source: tuple(int(n.replace(",", "")) for n in figures) for source, *figures in rows}


def assert_the_loop_learns_the_labels_shown(tmp_path: Path, shown: dict[str, tuple[int, int, int]]) -> None:
    """The labels the loop learns from (the `labels` projection that training and quality read: each transaction's
    effective label, by the precedence rule) are the sources' as the summary counts them, and an answered alert's
    transaction keeps the answer (or a chargeback over it), never an import."""
    import sqlalchemy as sa

    from fraudlog.store.engine import create_engine
    from fraudlog.store.tables import events, labels, predictions

    engine = create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        with engine.connect() as conn:
            served = labels.join(predictions, sa.and_(predictions.c.transaction_id == labels.c.transaction_id,
                                                      predictions.c.champion))
            effective = dict(conn.execute(sa.select(labels.c.source, sa.func.count()).select_from(served)
                                          .group_by(labels.c.source)).all())
            answered = conn.execute(sa.select(events.c.transaction_id).where(events.c.event_type == "alert_outcome"))
            sources = dict(conn.execute(sa.select(labels.c.transaction_id, labels.c.source).where(
                labels.c.transaction_id.in_(set(answered.scalars())))).all())
    finally:
        engine.dispose()
    assert effective == {source: figures[2] for source, figures in shown.items()
                         if source != "effective" and figures[2]}
    assert sources and set(sources.values()) <= {"customer", "analyst", "chargeback"}


def test_the_demo_makes_one_alert_per_card_per_window_covering_every_alerting_transaction(tmp_path: Path) -> None:
    """Issue 32: a burst on one card is one alert, and the summary shows alerts and covered transactions apart."""
    import sqlalchemy as sa

    from fraudlog.domain.alert_window import AlertWindow
    from fraudlog.store.engine import create_engine
    from fraudlog.store.outbox import EVENT_TYPE, alert_id_for
    from fraudlog.store.tables import alert_members, alerts, events, predictions

    result = run_demo(tmp_path)
    shown = re.search(r"transactions alerted\s+│\s+([\d,]+) \(covered by ([\d,]+) alerts", result.stdout)
    assert shown, result.stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        with engine.connect() as conn:
            alerted = conn.execute(sa.select(predictions.c.transaction_id, events.c.card_id, predictions.c.event_time)
                                   .join(events, sa.and_(events.c.transaction_id == predictions.c.transaction_id,
                                                         events.c.event_type == "transaction"))
                                   .where(predictions.c.champion, predictions.c.score >= predictions.c.threshold)).all()
            covered = dict(conn.execute(sa.select(alert_members.c.transaction_id, alert_members.c.alert_id)).all())
            opened = conn.execute(sa.select(alerts.c.id).where(alerts.c.type == EVENT_TYPE)).scalars().all()
    finally:
        engine.dispose()
    window = AlertWindow()
    assert covered == {tx: alert_id_for(window.alert_key(transaction_id=tx, card_id=card, event_time=event_time))
                       for tx, card, event_time in alerted}  # every alerting transaction, in its card's window
    assert sorted(opened) == sorted(set(covered.values()))  # one alert per card per window, no more
    assert int(shown.group(1).replace(",", "")) == len(covered)
    assert int(shown.group(2).replace(",", "")) == len(opened)
