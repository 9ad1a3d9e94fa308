"""The demo's card business: who hands fraudlog the truth about each transaction, how, and when.

`fraudlog demo` knows the truth of every transaction it streams. A card business learns it through several
channels, each at its own pace and not always right, and this one hands it back the same way, over HTTP
(docs/outcomes.md, "The demo's card business"):

- **customers** answer a share of the alerts once they are delivered (`sent`): `POST /v1/alerts/{id}/outcome`
  with `answered_by: customer`. Mostly truthfully; but a customer says "it was me" (`not_fraud`) on a share of
  frauds (a payment they mistook for theirs, one a family member made), and "not me" on a share of legitimate
  payments (a merchant name they do not recognise);
- **analysts** review a share of the delivered alerts no customer answered, and are right;
- **chargebacks** (`POST /v1/labels`, `source: chargeback`) come late: `CHARGEBACK_DELAY` times the label delay
  after their transaction, for most frauds a customer wrongly cleared (overruling the answer) and for a share of
  the frauds nobody answered for (disputed on the statement);
- **imports** (`source: import`): every transaction nobody answered gets its label `label_delay` transactions
  later, as a nightly file of confirmed statuses would bring it. An alert's transaction waits for its alert to be
  delivered and answered (or not) first.

Nothing here decides which label counts: fraudlog's precedence rule does, and the loop learns the effective
labels. Every decision is a draw seeded by (seed, what is decided, transaction id), so what happens to a
transaction does not depend on when its alert was delivered or in which order the demo saw it.
"""

from __future__ import annotations

import collections
import heapq
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fraudlog.client import AlertItem, FraudlogClient, Row
from fraudlog.domain.events import LabelBody, format_time, parse_time

# Chargebacks come this many label delays after their transaction: weeks after the payment, where an import
# takes a day (30 to 120 days in a real card business; the demo compresses its days into seconds).
CHARGEBACK_DELAY = 3
POLL_SECONDS = 0.5  # how often the alerts are read while streaming
# Alerts are read from the oldest one not yet delivered, less this margin: an alert made just before another
# may commit just after it.
POLL_MARGIN = timedelta(seconds=10)
PAGE = 1_000
LABEL_CHUNK = 5_000


@dataclass(frozen=True)
class Shares:
    """How this card business behaves; the defaults are what `fraudlog demo` runs and docs/outcomes.md states."""

    customer_answers: float = 0.6  # of the delivered alerts, answered by the customer
    it_was_me_on_fraud: float = 0.2  # of the frauds a customer answers, answered "it was me": wrong
    not_me_on_legitimate: float = 0.05  # of the legitimate payments a customer answers, "not me": wrong
    analyst_reviews: float = 0.3  # of the delivered alerts no customer answered, reviewed by an analyst
    chargeback_when_cleared: float = 0.9  # of the frauds a customer wrongly cleared, charged back
    chargeback_when_unanswered: float = 0.5  # of the frauds nobody answered for, charged back


@dataclass
class Tally:
    """What the card business sent, by channel."""

    customer_answers: int = 0
    wrong_answers: int = 0
    analyst_reviews: int = 0
    imports: int = 0
    chargebacks: int = 0


@dataclass
class CardBusiness:
    """A `fraudlog.client.Labeller` for `stream`: called after each batch it sends; `finish` after the last."""

    client: FraudlogClient
    label_delay: int
    seed: int = 0
    shares: Shares = field(default_factory=Shares)
    tally: Tally = field(default_factory=Tally)
    truth: dict[str, bool] = field(default_factory=dict)
    sent: int = 0
    # (rows sent when it was sent, transaction), in send order; `held`: due, but its alert is not answered yet
    imports: collections.deque[tuple[int, str]] = field(default_factory=collections.deque)
    held: list[tuple[int, str]] = field(default_factory=list)
    chargebacks: list[tuple[int, str]] = field(default_factory=list)  # a heap of (rows sent when due, transaction)
    answered: set[str] = field(default_factory=set)  # transactions a customer or an analyst labelled
    awaiting: dict[str, datetime] = field(default_factory=dict)  # alert transactions not delivered: created_at
    decided: set[str] = field(default_factory=set)  # alert ids
    newest_alert: datetime | None = None
    polled_at: float = 0.0

    def __call__(self, batch: Sequence[Row], sent: int) -> int:
        for body, is_fraud in batch:
            self.truth[body["transaction_id"]] = is_fraud
            self.imports.append((sent, body["transaction_id"]))
        self.sent = sent
        posted = 0
        if time.monotonic() - self.polled_at >= POLL_SECONDS:
            self.polled_at = time.monotonic()
            posted += self._answer(self._alerts(self._poll_from()))
        return posted + self._post_imports(everything=False) + self._post_chargebacks(everything=False)

    def finish(self) -> int:
        """After the last batch, once every alert is scored and delivered: answer every alert, then post every
        label still due (an alert still undelivered is one nobody answered)."""
        posted = self._answer(self._alerts(None), final=True)
        self.awaiting.clear()
        return posted + self._post_imports(everything=True) + self._post_chargebacks(everything=True)

    # -- alerts and their answers ---------------------------------------------------------------------------
    def _poll_from(self) -> datetime | None:
        oldest = min(self.awaiting.values(), default=self.newest_alert)
        return None if oldest is None else oldest - POLL_MARGIN

    def _alerts(self, since: datetime | None) -> list[AlertItem]:
        items: list[AlertItem] = []
        cursor = None
        while True:
            page = self.client.alerts(since=None if since is None else format_time(since), limit=PAGE,
                                      cursor=cursor)
            items += page.items
            cursor = page.next_cursor
            if cursor is None:
                return items

    def _answer(self, alerts: list[AlertItem], final: bool = False) -> int:
        posted = 0
        for alert in reversed(alerts):  # oldest first
            tx = alert.transaction_id
            if alert.type != "fraud_alert" or alert.alert_id in self.decided or tx not in self.truth:
                continue
            created = parse_time(alert.created_at)
            self.newest_alert = max(self.newest_alert or created, created)
            if alert.status == "pending" and not final:
                self.awaiting[tx] = created
                continue
            self.decided.add(alert.alert_id)
            self.awaiting.pop(tx, None)
            if alert.status == "sent":
                posted += self._answer_one(alert.alert_id, tx)
        return posted

    def _answer_one(self, alert_id: str, tx: str) -> int:
        is_fraud = self.truth[tx]
        if self._draw("customer", tx) < self.shares.customer_answers:
            wrong = self._draw("wrong", tx) < (self.shares.it_was_me_on_fraud if is_fraud
                                               else self.shares.not_me_on_legitimate)
            self._post_answer(alert_id, is_fraud != wrong, "customer")
            self.tally.customer_answers += 1
            self.tally.wrong_answers += wrong
            if wrong and is_fraud and self._draw("chargeback", tx) < self.shares.chargeback_when_cleared:
                heapq.heappush(self.chargebacks, (self.sent + CHARGEBACK_DELAY * self.label_delay, tx))
        elif self._draw("analyst", tx) < self.shares.analyst_reviews:
            self._post_answer(alert_id, is_fraud, "analyst")
            self.tally.analyst_reviews += 1
        else:
            return 0
        self.answered.add(tx)
        return 1

    def _post_answer(self, alert_id: str, is_fraud: bool, answered_by: str) -> None:
        # `post` retries what is safe to retry: the same answer again is a duplicate.
        self.client.post(f"/v1/alerts/{alert_id}/outcome",
                         {"outcome": "confirmed_fraud" if is_fraud else "not_fraud", "answered_by": answered_by})

    # -- labels -----------------------------------------------------------------------------------------------
    def _post_imports(self, *, everything: bool) -> int:
        waiting = self.held + self._popped_imports(everything)
        self.held = [item for item in waiting if item[1] in self.awaiting]
        due = [item for item in waiting if item[1] not in self.awaiting and item[1] not in self.answered]
        for sent_then, tx in due:
            if self.truth[tx] and self._draw("chargeback", tx) < self.shares.chargeback_when_unanswered:
                heapq.heappush(self.chargebacks, (sent_then + CHARGEBACK_DELAY * self.label_delay, tx))
        self.tally.imports += len(due)
        return self._post_labels([tx for _, tx in due], "import")

    def _popped_imports(self, everything: bool) -> list[tuple[int, str]]:
        popped = []
        while self.imports and (everything or self.sent - self.imports[0][0] >= self.label_delay):
            popped.append(self.imports.popleft())
        return popped

    def _post_chargebacks(self, *, everything: bool) -> int:
        due = []
        while self.chargebacks and (everything or self.chargebacks[0][0] <= self.sent):
            due.append(heapq.heappop(self.chargebacks)[1])
        self.tally.chargebacks += len(due)
        return self._post_labels(due, "chargeback", is_fraud=True)

    def _post_labels(self, transactions: list[str], source: str, is_fraud: bool | None = None) -> int:
        labels: list[LabelBody] = [
            {"transaction_id": tx, "is_fraud": self.truth[tx] if is_fraud is None else is_fraud, "source": source}
            for tx in transactions]
        for start in range(0, len(labels), LABEL_CHUNK):
            self.client.label(labels[start:start + LABEL_CHUNK])
        return len(labels)

    def _draw(self, what: str, tx: str) -> float:
        """A number in [0, 1) that only the seed, the question and the transaction decide."""
        return random.Random(f"{self.seed}:{what}:{tx}").random()

