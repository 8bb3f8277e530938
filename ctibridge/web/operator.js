// The same REST data the widget API offers, every second: /api/calls and /readyz (its per-link
// detail, which only a token gets, limited to the token's DNs).
const token = new URLSearchParams(location.search).get("token") || "";
const auth = { headers: { Authorization: `Bearer ${token}` } };
const $ = (id) => document.getElementById(id);

function cell(text, cls = "") {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  return td;
}

function row(cells, data = {}) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  Object.assign(tr.dataset, data);
  return tr;
}

function callRow(c) {
  const link = document.createElement("a");
  link.href = `/calls/${encodeURIComponent(c.id)}/timeline?token=${encodeURIComponent(token)}`;
  link.textContent = "ladder";
  const timeline = document.createElement("td");
  timeline.append(link);
  const sync = c.sync.status + (c.sync.rule ? ` (${c.sync.rule})` : "");
  const remote = [c.remote?.name, c.remote?.number].filter(Boolean).join(" ");
  const genesys = c.genesys ? c.genesys.state : "—";
  const asterisk = c.asterisk ? c.asterisk.state + (c.asterisk.held ? " (held)" : "") : "—";
  return row([cell(c.id), cell(c.dn), cell(c.direction), cell(c.state), cell(remote), cell(sync, c.sync.status),
    cell(genesys, c.genesys ? "" : "muted"), cell(asterisk, c.asterisk ? "" : "muted"), timeline],
    { callId: c.id, sync: c.sync.status });
}

function renderLinks(health) {
  const dns = new Set([...health.gws.map((s) => s.dn), ...Object.keys(health.ami.registrations)]);
  const rows = [...dns].sort().map((dn) => {
    const session = health.gws.find((s) => s.dn === dn);
    const reg = health.ami.registrations[dn];
    return row([cell(dn), cell(session ? session.status : "—", session?.status === "connected" ? "ok" : "bad"),
      cell(reg ?? "—", reg === "Registered" ? "ok" : "muted")], { dn });
  });
  $("links").tBodies[0].replaceChildren(...rows);
  return `AMI ${health.ami.link}${health.ami.ready ? " (ready)" : ""} · store ${health.store.kind} · ` +
    `${health.clients} widget(s) · ${health.status}`;
}

async function refresh() {
  try {
    const [calls, health] = await Promise.all([
      fetch("/api/calls", auth).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`calls: HTTP ${r.status}`)))),
      fetch("/readyz", auth).then((r) => r.json()),
    ]);
    const rows = calls.calls.map(callRow);
    $("calls").tBodies[0].replaceChildren(...(rows.length ? rows : [row([cell("no live call", "muted")])]));
    $("status").textContent = `${renderLinks(health)} · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("status").textContent = `error: ${err.message}`;
  }
}

refresh();
setInterval(refresh, 1000);
