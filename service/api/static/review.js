/* fraudlog dashboard: the review queue and an alert's review panel (docs/outcomes.md, "The review queue").
 *
 * The queue is GET /v1/reviews: alerts whose transaction has no label yet, newest or highest score first. The
 * panel shows one alert as GET /v1/alerts/{id} gives it: the transaction, its reasons as a bar chart of signed
 * contributions (towards fraud to the right, away from it to the left), and the card's recent history beside
 * them. An answer is POST /v1/alerts/{id}/outcome as `analyst`, which makes it the transaction's label.
 * A row of "Latest alerts" opens the same panel. Keys: j/k move, f answers fraud, n not fraud.
 * Elements carry data-* attributes (`data-review`, `data-contribution`, `data-answered`) for tests.
 */
(function () {
  "use strict";

  const params = new URLSearchParams(window.location.search);
  const REFRESH_MS = Math.max(1000, 2 * (Number(params.get("refresh")) || 2000));
  const KEY_STORAGE = "fraudlog.apiKey";
  const QUEUE_LENGTH = 25;
  const HISTORY = 10;
  const OUTCOMES = { f: "confirmed_fraud", n: "not_fraud" };

  let order = "newest";
  let queue = [];          // the items of the last GET /v1/reviews
  let shown = null;        // the review in the panel
  let answering = false;

  function isNum(value) { return typeof value === "number" && Number.isFinite(value); }
  function fmtScore(value) { return isNum(value) ? Number(value.toPrecision(3)).toString() : "—"; }
  function fmtAmount(value) { return isNum(value) ? value.toFixed(2) : "—"; }
  function fmtTime(iso) {
    const date = new Date(String(iso).replace(/(\.\d{3})\d+/, "$1"));
    return Number.isNaN(date.getTime()) ? "—" : date.toISOString().replace("T", " ").slice(0, 19);
  }

  const el = window.fraudlog.el;  // dashboard.js, loaded first

  async function call(path, init) {
    const headers = { Accept: "application/json" };
    const key = window.sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = "Bearer " + key;
    if (init && init.body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, Object.assign({ headers, cache: "no-store" }, init || {}));
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && (body.detail || body.title)) || `${path} answered ${response.status}`);
    return body;
  }

  // ---- the queue -----------------------------------------------------------------------------------

  async function loadQueue() {
    try {
      const page = await call(`/v1/reviews?order=${order}&limit=${QUEUE_LENGTH}&history=${HISTORY}`);
      queue = page.items || [];
      renderQueue();
      if (!shown && queue.length) show(queue[0]);
    } catch (error) {
      document.getElementById("review-count").textContent = "unavailable: " + error.message;
    }
  }

  function renderQueue() {
    const list = document.getElementById("review-queue");
    document.getElementById("review-count").textContent =
      queue.length ? `${queue.length}${queue.length === QUEUE_LENGTH ? "+" : ""} waiting` : "nothing waiting";
    const items = queue.map((item) => {
      const a = item.alert;
      return el("li", {
        "data-review": a.alert_id, class: shown && shown.alert.alert_id === a.alert_id ? "selected" : null,
        tabindex: "-1",
      }, [
        el("span", { class: "review-score", text: fmtScore(a.score) }),
        el("span", { class: "mono", text: a.card_id || "no card" }),
        el("span", { class: "num", text: fmtAmount(item.transaction.amount) }),
        el("span", { class: "muted", text: fmtTime(item.transaction.event_time) }),
      ]);
    });
    list.replaceChildren(...(items.length ? items : [el("li", { class: "empty", text: "no alert waits for an answer" })]));
  }

  function move(step) {
    if (!queue.length) return;
    const at = shown ? queue.findIndex((item) => item.alert.alert_id === shown.alert.alert_id) : -1;
    const next = at < 0 ? 0 : Math.min(queue.length - 1, Math.max(0, at + step));
    show(queue[next]);
  }

  // ---- the panel -----------------------------------------------------------------------------------

  function show(review) {
    shown = review;
    answering = false;
    renderQueue();
    renderPanel(review, "");
  }

  async function open(alertId) {
    const queued = queue.find((item) => item.alert.alert_id === alertId);
    if (queued) { show(queued); return; }
    try {
      show(await call(`/v1/alerts/${encodeURIComponent(alertId)}?history=${HISTORY}`));
    } catch (error) {
      setMessage("could not open alert " + alertId + ": " + error.message);
    }
  }

  function setMessage(text) { document.getElementById("review-message").textContent = text; }

  function renderPanel(review, message) {
    const panel = document.getElementById("review-panel");
    const a = review.alert;
    const tx = review.transaction;
    const answered = review.label ? `${review.label.is_fraud ? "fraud" : "not fraud"} (${review.label.source})` : "";
    panel.dataset.alert = a.alert_id;
    panel.dataset.answered = answered;
    panel.replaceChildren(
      el("header", { class: "review-head" }, [
        el("div", {}, [
          el("h4", { class: "mono", text: tx.transaction_id }),
          el("p", { class: "muted", text: `card ${tx.card_id || "—"} · ${fmtTime(tx.event_time)} · amount ${fmtAmount(tx.amount)}` }),
        ]),
        el("div", { class: "review-verdict" }, [
          el("span", { class: "review-score big", text: fmtScore(a.score) }),
          el("span", { class: "muted", text: ` ≥ ${fmtScore(a.threshold)} · v${a.model_version} · ${a.status}` }),
        ]),
      ]),
      el("div", { class: "review-body" }, [reasonsChart(review.explanation), historyTable(review)]),
      el("div", { class: "review-actions" }, [
        button("confirmed_fraud", "Fraud", "f", "fraud"),
        button("not_fraud", "Not fraud", "n", "clear"),
        el("span", { class: "review-answered", text: answered ? "label: " + answered : "" }),
        el("span", { id: "review-message", class: "muted", text: message }),
      ]),
      outcomesList(review.outcomes || []),
    );
  }

  function button(outcome, text, key, kind) {
    const node = el("button", { type: "button", class: "answer " + kind, "data-outcome": outcome,
                                title: `answer as analyst (key ${key})` }, [text + " ", el("kbd", { text: key })]);
    node.addEventListener("click", () => answer(outcome));
    return node;
  }

  // Signed contributions around a centre line: the longest bar spans half the width.
  function reasonsChart(explanation) {
    if (!explanation || !(explanation.reasons || []).length) {
      return el("div", { class: "reasons" }, el("p", { class: "muted", text: "no reasons stored for this alert" }));
    }
    const reasons = explanation.reasons;
    const largest = Math.max(...reasons.map((r) => Math.abs(r.contribution))) || 1;
    const rows = reasons.map((r) => {
      const share = (Math.abs(r.contribution) / largest) * 50;
      const towards = r.contribution > 0;
      return el("div", { class: "reason", "data-feature": r.feature, title: r.sentence }, [
        el("div", { class: "reason-label" }, [
          el("span", { class: "mono", text: r.feature }),
          el("span", { class: "muted", text: " = " + (isNum(r.value) ? fmtScore(r.value) : String(r.value)) }),
        ]),
        el("div", { class: "reason-track" }, [
          el("div", { class: "reason-bar " + (towards ? "up" : "down"), "data-contribution": String(r.contribution),
                      style: { width: share + "%", left: towards ? "50%" : 50 - share + "%" } }),
        ]),
        el("div", { class: "reason-value num", text: (towards ? "+" : "") + fmtScore(r.contribution) }),
        el("div", { class: "reason-sentence muted", text: r.sentence }),
      ]);
    });
    return el("div", { class: "reasons" }, [
      el("h5", { text: `Reasons · ${explanation.method} (${explanation.units})` }),
      el("div", { class: "reason-axis muted" }, [el("span", { text: "← away from fraud" }), el("span", { text: "towards fraud →" })]),
      ...rows,
    ]);
  }

  function historyTable(review) {
    const rows = (review.history || []).map((h) => el("tr", {
      "data-history": h.transaction_id, class: h.transaction_id === review.transaction.transaction_id ? "current" : null,
    }, [
      el("td", { text: fmtTime(h.event_time) }),
      el("td", { class: "num", text: fmtAmount(h.amount) }),
      el("td", { class: "num" + (h.alerted ? " score-hot" : ""), text: fmtScore(h.score) }),
      el("td", { text: h.alerted ? "alert" : "" }),
      el("td", { text: h.is_fraud === null || h.is_fraud === undefined ? "" : h.is_fraud ? "fraud" : "genuine" }),
    ]));
    return el("div", { class: "history" }, [
      el("h5", { text: "The card's recent history" }),
      el("table", {}, [
        el("thead", {}, el("tr", {}, ["time", "amount", "score", "", "label"].map((t) => el("th", { text: t })))),
        el("tbody", {}, rows),
      ]),
    ]);
  }

  function outcomesList(outcomes) {
    if (!outcomes.length) return el("p", { class: "review-outcomes muted", text: "no answer yet" });
    return el("ul", { class: "review-outcomes" }, outcomes.map((o) => el("li", {
      text: `${fmtTime(o.answered_at)} · ${o.source} ${o.actor}: ${o.outcome}${o.note ? " (" + o.note + ")" : ""}`,
    })));
  }

  async function answer(outcome) {
    if (!shown || answering) return;
    answering = true;
    const alertId = shown.alert.alert_id;
    setMessage("sending…");
    try {
      await call(`/v1/alerts/${encodeURIComponent(alertId)}/outcome`, {
        method: "POST", body: JSON.stringify({ outcome, answered_by: "analyst" }),
      });
    } catch (error) {
      answering = false;
      setMessage("not recorded: " + error.message);
      return;
    }
    const at = queue.findIndex((item) => item.alert.alert_id === alertId);
    queue = queue.filter((item) => item.alert.alert_id !== alertId);
    const next = queue[Math.min(Math.max(at, 0), queue.length - 1)];
    if (next) show(next);
    else {
      renderQueue();
      try { renderPanel(await call(`/v1/alerts/${encodeURIComponent(alertId)}?history=${HISTORY}`), "recorded"); }
      catch (error) { setMessage("recorded"); }
    }
    answering = false;
  }

  function onKey(event) {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    const key = event.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (OUTCOMES[key]) answer(OUTCOMES[key]);
    else return;
    event.preventDefault();
  }

  function start() {
    const select = document.getElementById("review-order");
    select.addEventListener("change", () => { order = select.value; loadQueue(); });
    document.getElementById("review-queue").addEventListener("click", (event) => {
      const item = event.target.closest("[data-review]");
      if (item) open(item.dataset.review);
    });
    document.querySelector("#alerts tbody").addEventListener("click", (event) => {
      const row = event.target.closest("[data-alert]");
      if (row) {
        open(row.dataset.updateOf || row.dataset.alert);  // an update opens the alert it updates
        document.getElementById("review").scrollIntoView({ block: "nearest" });
      }
    });
    document.addEventListener("keydown", onKey);
    loadQueue();
    window.setInterval(loadQueue, REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
