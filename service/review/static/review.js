// RecallGuard reviewer page. Plain JS, no build step. Never uses innerHTML: seller text only
// ever reaches the page through the server's escaped template or through textContent here.
"use strict";

(function () {
  const body = document.body;
  const base = body.dataset.base || "";
  const itemId = body.dataset.itemId;
  const sections = Array.from(document.querySelectorAll("section.comparison"));
  const rows = Array.from(document.querySelectorAll("li.cand-row"));
  const help = document.getElementById("help");
  const status = document.getElementById("status");
  let selected = 0;
  let busy = false;

  function say(message, kind) {
    if (!status) return;
    status.textContent = message;
    status.className = "status" + (kind ? " " + kind : "");
  }

  function select(index) {
    if (!sections.length) return;
    selected = (index + sections.length) % sections.length;
    sections.forEach(function (s, i) { s.hidden = i !== selected; });
    rows.forEach(function (r, i) { r.classList.toggle("selected", i === selected); });
  }

  function toggleHelp(force) {
    if (!help) return;
    help.hidden = force === undefined ? !help.hidden : !force;
  }

  // Claiming is an explicit action (a page view never claims): the Start button, or a decision
  // (which asks for the next item). The page then reloads to show the claimed item.
  async function claimNext() {
    const response = await fetch(base + "/api/claim", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Requested-With": "recallguard" },
    });
    if (!response.ok) {
      let message = "HTTP " + response.status;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
  }

  async function start() {
    if (busy) return;
    busy = true;
    say("Claiming the next item…");
    try {
      await claimNext();
      window.location.reload();
      return;
    } catch (err) {
      say("Could not claim an item: " + String(err.message || err), "error");
    }
    busy = false;
  }

  async function decide(decision) {
    if (!itemId || busy) return;
    busy = true;
    const entryId = sections.length ? sections[selected].dataset.entryId : "";
    const note = document.getElementById("note");
    const payload = { decision: decision, note: note ? note.value : "" };
    if (entryId) payload.entry_id = entryId;
    say("Saving " + decision + "…");
    try {
      const response = await fetch(base + "/api/items/" + encodeURIComponent(itemId) + "/decision", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Requested-With": "recallguard" },
        body: JSON.stringify(payload),
      });
      if (response.ok) {
        say("Saved: " + decision + ". Loading the next item…", "ok");
        try { await claimNext(); } catch (e) { /* the page shows the queue as it is */ }
        window.location.reload();
        return;
      }
      let message = "HTTP " + response.status;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      if (response.status === 401) message += " (sign in again)";
      say("Not saved: " + message, "error");
      if (response.status === 409) window.setTimeout(function () { window.location.reload(); }, 1500);
    } catch (err) {
      say("Not saved: the service did not answer (" + String(err) + ")", "error");
    }
    busy = false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "Enter" && startButton) {
      event.preventDefault();
      start();
      return;
    }
    const actions = {
      y: function () { decide("confirm"); },
      n: function () { decide("reject"); },
      u: function () { decide("unsure"); },
      j: function () { select(selected + 1); },
      k: function () { select(selected - 1); },
      "?": function () { toggleHelp(); },
      Escape: function () { toggleHelp(false); },
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.querySelectorAll("button.decide").forEach(function (button) {
    button.addEventListener("click", function () { decide(button.dataset.decision); });
  });
  rows.forEach(function (row) {
    row.addEventListener("click", function () { select(Number(row.dataset.index)); });
  });
  const startButton = document.getElementById("claim");
  if (startButton) startButton.addEventListener("click", function () { start(); });
  const helpButton = document.getElementById("help-button");
  if (helpButton) helpButton.addEventListener("click", function () { toggleHelp(); });
})();
