"""`fraudlog demo` end to end, as a new user runs it, on a small stream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_scores_every_transaction(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "demo", "--rows", "1500", "--train-rows", "800", "--no-serve",
         "--port", "0", "--db", str(tmp_path / "demo.db")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "demo.log").read_text().count('"logger":') > 0  # the log went to its file (issue 27 #15)
    out = result.stdout
    assert re.search(r"transactions streamed\s+│\s+1,500", out), out
    assert re.search(r"transactions scored\s+│\s+1,500", out), out
    assert re.search(r"served ROC AUC \(the champions' scores\)\s+│\s+0\.\d+ on 1,500 labels", out), out
    assert re.search(r"│ v1\s+│ champion\s+│ 0\.\d+ \(1,500\)", out), out  # each version's AUC on what it scored


def test_the_demo_makes_one_alert_per_card_per_window_covering_every_alerting_transaction(tmp_path: Path) -> None:
    """Issue 32: a burst on one card is one alert, and the summary shows alerts and covered transactions apart."""
    import sqlalchemy as sa

    from service.domain.alert_window import AlertWindow
    from service.store.engine import create_engine
    from service.store.outbox import EVENT_TYPE, alert_id_for
    from service.store.tables import alert_members, alerts, events, predictions

    source = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "demo", "--rows", "1500", "--train-rows", "800", "--no-serve",
         "--port", "0", "--db", str(tmp_path / "demo.db")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", **source},
    )
    assert result.returncode == 0, result.stderr[-2000:]
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
