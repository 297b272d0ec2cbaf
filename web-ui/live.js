"use strict";
// Placeholder live page: shows that the feed is live. Speaks the protocol of
// docs/live-protocol.md: snapshot, then deltas with seq; resumes with epoch+since.
const $ = (id) => document.getElementById(id);
const values = new Map(), incidents = new Map();
let epoch = null, seq = 0, updates = 0, alerts = 0, lastMsg = 0, retry = 500;
const sevLabel = { red: "红 red", orange: "橙 orange", yellow: "黄 yellow", blue: "蓝 blue" };

function renderIncidents() {
  const ul = $("incidents"); ul.textContent = "";
  const order = { red: 0, orange: 1, yellow: 2, blue: 3 };
  [...incidents.values()].sort((a, b) => order[a.severity] - order[b.severity] || b.last_seen.localeCompare(a.last_seen))
    .slice(0, 14).forEach((i) => {
      const li = document.createElement("li");
      const s = document.createElement("span"); s.className = "sev " + i.severity; s.textContent = sevLabel[i.severity] || i.severity;
      li.append(s, document.createTextNode(i.title + " · ×" + i.count));
      ul.append(li);
    });
  $("k-incidents").textContent = incidents.size;
}
function feed(v) {
  const ul = $("feed"); const li = document.createElement("li");
  li.textContent = `${v.time.slice(11, 19)}  ${v.id}  ${v.metric} = ${Number(v.value).toFixed(2)}`;
  ul.prepend(li); while (ul.children.length > 14) ul.lastChild.remove();
}
function apply(m) {
  if (m.type === "snapshot") { values.clear(); incidents.clear(); }
  for (const v of m.sensors || []) { values.set(v.id + "/" + v.metric, v); if (m.type === "delta") { updates++; } }
  if (m.type === "delta") (m.sensors || []).slice(0, 3).forEach(feed);
  for (const i of m.incidents || []) { if (["closed", "rejected", "merged"].includes(i.status)) incidents.delete(i.id); else incidents.set(i.id, i); }
  if (m.type === "delta") alerts += (m.alerts || []).length; else alerts = (m.alerts || []).length;
  $("k-sensors").textContent = values.size; $("k-updates").textContent = updates; $("k-alerts").textContent = alerts;
  renderIncidents();
}
function connect() {
  const q = epoch ? `?epoch=${epoch}&since=${seq}` : "";
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws${q}`);
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data); lastMsg = Date.now(); retry = 500;
    setState("live", "LIVE · 实时"); $("age").textContent = "0 s ago";
    if (m.type !== "heartbeat") apply(m);
    epoch = m.epoch; seq = m.seq; $("seq").textContent = seq;
  };
  ws.onclose = async () => {
    setState("down", "disconnected · 断开");
    if (!(await signedIn())) { start(); return; }
    setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
  };
}
function setState(cls, text) { const s = $("state"); s.className = cls; s.textContent = text; }
// Signed in (session cookie)? Else show the form; the server sets the cookie on login.
async function signedIn() { try { return (await fetch("/api/v1/me")).ok; } catch { return false; } }
async function start() {
  if (await signedIn()) { $("login").className = ""; connect(); return; }
  setState("down", "signed out · 未登录"); $("login").className = "shown";
}
$("login-form").onsubmit = async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const r = await fetch("/api/v1/login", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: f.get("user"), password: f.get("password") }) });
  if (r.ok) { $("login-error").textContent = ""; start(); }
  else { const e = await r.json().catch(() => ({})); $("login-error").textContent = e.message || ("HTTP " + r.status); }
};
setInterval(() => {
  if (!lastMsg) return;
  const age = (Date.now() - lastMsg) / 1000; $("age").textContent = age.toFixed(0) + " s ago";
  if (age > 6) setState("stale", "STALE · 数据过期"); else setState("live", "LIVE · 实时");
}, 500);
start();
