// "Try a transaction": score one transaction with every live version (POST /v1/predict with
// model_versions "live") and show one row per version. Nothing is stored. Uses the key the dashboard keeps.
(function () {
  "use strict";

  const KEY_STORAGE = "fraudlog.apiKey";
  const EXAMPLE = {
    transaction_id: "try-1",
    card_id: "card-42",
    event_time: new Date().toISOString(),
    amount: 149.62,
    attributes: { merchant_risk: 0.8, distance_km: 420.0, is_online: 1, category: 3 },
  };

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function showMessage(body, text) {
    const row = document.createElement("tr");
    row.className = "empty";
    const td = cell(text);
    td.colSpan = 5;
    row.append(td);
    body.replaceChildren(row);
  }

  async function score(event) {
    event.preventDefault();
    const form = event.target;
    const body = document.querySelector("#try-results tbody");
    let transaction;
    try {
      transaction = JSON.parse(form.querySelector("#try-transaction").value);
    } catch (error) {
      showMessage(body, "not JSON: " + error.message);
      return;
    }
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    const key = window.sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch("/v1/predict", {
      method: "POST", headers, body: JSON.stringify({ transaction, model_versions: "live" }),
    });
    const answer = await response.json();
    if (!response.ok) {
      const fields = (answer.errors || []).map((e) => `${e.pointer}: ${e.detail}`).join("; ");
      showMessage(body, `${response.status} ${answer.title}${answer.detail ? ": " + answer.detail : ""}` +
                        (fields ? " (" + fields + ")" : ""));
      return;
    }
    body.replaceChildren(...answer.predictions.map((p) => {
      const row = document.createElement("tr");
      row.dataset.version = String(p.model_version);
      row.dataset.decision = p.is_alert ? "alert" : "pass";
      row.append(cell("v" + p.model_version), cell(p.status), cell(p.score.toFixed(4), "num"),
                 cell(p.threshold.toFixed(4), "num"), cell(p.is_alert ? "ALERT" : "pass"));
      return row;
    }));
  }

  function start() {
    const form = document.getElementById("try");
    if (!form) return;
    form.querySelector("#try-transaction").value = JSON.stringify(EXAMPLE, null, 2);
    form.addEventListener("submit", (event) => { score(event).catch((error) => {
      showMessage(document.querySelector("#try-results tbody"), String(error));
    }); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
