// The overview page: reads /v1/overview with the tab's API key every three
// seconds (20 of the key's default 100 requests a minute). Every value from the API is written as text, never as markup.
"use strict";

const KEY = "shelfsync.key";
const REFRESH_MS = 3000;
const STATUSES = ["synced", "pending", "failed", "conflict", "excluded"];

const $ = (id) => document.getElementById(id);

// A key handed over in the URL fragment (`/#key=…`, as `shelfsync demo`
// prints it) is kept for this tab and taken out of the address bar.
function takeKeyFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (key) {
    sessionStorage.setItem(KEY, key);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(cells) {
  const tr = document.createElement("tr");
  cells.forEach((c) => tr.appendChild(c));
  return tr;
}

function connectionRow(c) {
  const counts = c.listings || {};
  const total = STATUSES.reduce((n, s) => n + (counts[s] || 0), 0);
  const live = total - (counts.excluded || 0);
  const synced = counts.synced || 0;

  const name = cell(c.name);
  const platform = document.createElement("div");
  platform.className = "muted";
  platform.textContent = c.platform + (c.account ? " · " + c.account : "");
  name.appendChild(platform);

  const breakdown = document.createElement("td");
  breakdown.className = "counts";
  STATUSES.forEach((s) => {
    if (!counts[s]) return;
    const span = document.createElement("span");
    span.className = s;
    span.textContent = counts[s] + " " + s;
    breakdown.appendChild(span);
  });
  if (!total) breakdown.textContent = "none yet";

  const progress = document.createElement("td");
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = (live ? Math.round((100 * synced) / live) : 0) + "%";
  bar.appendChild(fill);
  progress.appendChild(bar);
  const label = document.createElement("div");
  label.className = "muted";
  label.textContent = synced + " of " + live;
  progress.appendChild(label);

  return row([name, cell(c.status, "status-" + c.status), breakdown, progress]);
}

function moveRow(m) {
  const when = new Date(m.at).toLocaleTimeString();
  const delta = m.delta > 0 ? "+" + m.delta : String(m.delta);
  const why = cell(m.reason);
  if (m.reference) {
    const ref = document.createElement("div");
    ref.className = "muted";
    const code = document.createElement("code");
    code.textContent = m.reference;
    ref.appendChild(code);
    why.appendChild(ref);
  }
  return row([
    cell(when, "muted"),
    cell(m.sku),
    cell(m.title),
    cell(delta, "num " + (m.delta < 0 ? "down" : "up")),
    cell(String(m.available_after), "num"),
    why,
  ]);
}

function show(signedIn) {
  $("sign-in").hidden = signedIn;
  $("channels").hidden = !signedIn;
  $("stock").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
}

function problem(text) {
  $("problem").hidden = !text;
  $("problem").textContent = text || "";
}

async function refresh() {
  const key = sessionStorage.getItem(KEY);
  if (!key) {
    show(false);
    return;
  }
  try {
    const response = await fetch("/v1/overview", {
      headers: { Authorization: "Bearer " + key },
    });
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      show(false);
      problem("That key was not accepted.");
      return;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      problem(body.detail || body.title || "The server answered " + response.status + ".");
      return;
    }
    const overview = await response.json();
    problem(null);
    show(true);
    $("connections").replaceChildren(...overview.connections.map(connectionRow));
    if (!overview.connections.length) {
      $("connections").replaceChildren(row([cell("No channels connected yet.", "muted")]));
    }
    $("moves").replaceChildren(...overview.recent_stock_moves.map(moveRow));
    if (!overview.recent_stock_moves.length) {
      $("moves").replaceChildren(row([cell("No stock has moved yet.", "muted")]));
    }
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    problem("Cannot reach the server (" + error.message + "); retrying.");
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  refresh();
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  show(false);
});

takeKeyFromFragment();
refresh();
setInterval(refresh, REFRESH_MS);
