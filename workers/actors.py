"""`dramatiq fraudlog.workers.actors`: the entry of a worker process (`fraudlog worker` runs the same command).

Dramatiq's CLI imports the module it is given and then runs the global broker, so for this one module
being imported *is* the process starting: it starts the broker from the settings. Nothing else imports
it; the actors themselves live in `fraudlog.workers.tasks`, which has no side effect at import.
"""

from __future__ import annotations

from fraudlog.workers.process import start_worker_process
from fraudlog.workers.tasks import deliver_alerts, retrain, score, sweep

__all__ = ["broker", "deliver_alerts", "retrain", "score", "sweep"]

broker = start_worker_process()
