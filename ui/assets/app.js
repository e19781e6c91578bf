// The ledgerless dashboard: a view of the replica's REST API v1 that
// follows changes through the API's long polls. No framework, no build
// step: every string from the API reaches the page as text, never as HTML.
"use strict";

const TOKEN_KEY = "ledgerless.token"; // in this tab's sessionStorage only
const LIVE_GROUPS = 4; // long polls the overview holds; see docs/dashboard.md
const WAIT = "10s"; // a quiet group is read afresh this often (heartbeats wake no long poll)

let me = null; // GET /v1/whoami: {replica, authenticated, name, role}
let replicas = []; // GET /v1/controller's replicas, to move to when this one is lost
let viewAbort = new AbortController();

// ---- DOM helpers ----

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
// fill replaces el's children with kids, skipping null and false.
function fill(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k != null && k !== false));
}
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const isAdmin = () => me && me.role === "admin";
const groupPath = (c, g) => `/v1/clusters/${enc(c)}/groups/${enc(g)}`;
const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

function setStatus(text, kind) {
  const s = $("status");
  s.className = kind || "";
  s.textContent = text || "";
}
function clearProblem() { $("problem").replaceChildren(); }
function showProblem(what, p) {
  fill($("problem"), h("strong", { class: "title" }, p.title),
    ` — ${what} refused (HTTP ${p.status}${p.code ? " " + p.code : ""})`,
    p.detail ? h("br") : null, p.detail ? h("span", { class: "detail" }, p.detail) : null);
}

// ---- the API ----

class Problem extends Error {
  constructor(status, body) {
    super(body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || `HTTP ${status}`;
    this.detail = body.detail || "";
    this.code = body.code || "";
  }
}
class Lost extends Error {}

// api sends a request with the session's token; extra adds headers. It
// answers the JSON body, the long-poll index and the ETag.
async function api(method, path, body, signal, extra) {
  const headers = { Accept: "application/json", ...extra };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const opts = { method, headers, signal, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
    opts.body = JSON.stringify(body);
  }
  let res, text;
  try {
    res = await fetch(path, opts);
    text = await res.text();
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new Lost(e.message);
  }
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const p = new Problem(res.status, data || {});
    if (res.status === 401) signIn(p);
    throw p;
  }
  return { data, index: Number(res.headers.get("X-Ledgerless-Index")) || 0, etag: res.headers.get("ETag") };
}

// ---- losing the replica ----

let searching = null;

// findReplica resolves when this replica answers again; when another one
// answers first, the page moves there and never resolves.
function findReplica() {
  if (!searching) searching = search().finally(() => { searching = null; });
  return searching;
}

async function reachable(origin) {
  try {
    await fetch(origin + "/healthz", { mode: "no-cors", cache: "no-store", signal: AbortSignal.timeout(2000) });
    return true;
  } catch { return false; }
}

async function search() {
  const here = me ? me.replica : location.host;
  setStatus(`Lost replica ${here} (${location.origin}): it does not answer. Looking for another replica…`, "bad");
  const others = replicas.filter((r) => r.id !== here).sort((a, b) => Number(b.alive) - Number(a.alive));
  for (let attempt = 0; ; attempt++) {
    if (await reachable(location.origin)) { // a passing fault: stay
      setStatus(`Replica ${here} answers again.`, "ok");
      return;
    }
    for (const r of others) {
      let origin;
      try { origin = new URL(r.address).origin; } catch { continue; }
      if (origin === location.origin || !(await reachable(origin))) continue;
      setStatus(`Lost replica ${here}; moving to replica ${r.id} at ${origin}.`, "bad");
      location.assign(`${origin}/ui/?from=${enc(here)}${location.hash}`);
      return new Promise(() => {});
    }
    await sleep(Math.min(5000, 500 * 2 ** attempt));
  }
}

// follow long-polls a group until signal ends, calling show with each
// new state: the first answer at once, then one per change.
// A refusal other than 503 (etcd unavailable, too many long polls) ends
// it: the caller may not read the group, or it does not exist.
async function follow(c, g, signal, show) {
  let index = 0;
  while (!signal.aborted) {
    const sent = Date.now();
    try {
      const ans = await api("GET", `${groupPath(c, g)}?index=${index}&wait=${WAIT}`, undefined, signal);
      // A replica that is shutting down answers every long poll at once
      // with no change; do not spin on it until it stops.
      const unchanged = ans.index <= index && index > 0;
      index = ans.index;
      show(ans.data);
      if (unchanged && Date.now() - sent < 1000) await sleep(500, signal);
    } catch (e) {
      if (signal.aborted || e.name === "AbortError") return;
      if (e instanceof Lost) {
        await findReplica();
        await sleep(500, signal); // its /healthz answered, its API may not yet
        continue;
      }
      if (!(e instanceof Problem)) throw e;
      if (e.status !== 401) show(null, e);
      if (e.status !== 503) return;
      await sleep(1000, signal);
    }
  }
}

// ---- signing in ----

function signIn(problem) {
  viewAbort.abort();
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h("form", { class: "login", onsubmit: (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    start();
  } },
  h("div", { class: "field" }, h("label", { for: "token" }, "Bearer token"), input),
  h("button", { type: "submit" }, "Sign in"));
  const main = $("main");
  main.replaceChildren(h("h1", { tabindex: "-1" }, "Sign in"),
    h("p", {}, "This replica authenticates its callers. The token stays in this tab's session storage and is sent as a Bearer header."),
    form);
  const sent = sessionStorage.getItem(TOKEN_KEY);
  if (sent) showProblem("sign-in", problem);
  $("who").replaceChildren();
  input.focus();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  start();
}

// ---- confirmation ----

function confirmAction(title, text, extra) {
  const d = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-extra").replaceChildren(...(extra ? [extra] : []));
  d.returnValue = "";
  d.showModal();
  $("confirm-ok").focus();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true }));
}

// act runs an admin action after confirmation and shows its refusal.
async function act(button, what, question, run, extra) {
  clearProblem();
  if (!(await confirmAction(what, question, extra))) return false;
  button.disabled = true;
  try {
    await run();
    setStatus(`${what}: done.`, "ok");
    return true;
  } catch (e) {
    if (e instanceof Problem) showProblem(what, e);
    else if (e instanceof Lost) {
      fill($("problem"), h("strong", { class: "title" }, "No answer"),
        ` — ${what}: the replica did not answer, so whether it was done is unknown; check before trying again.`);
      findReplica();
    } else throw e;
    return false;
  } finally {
    button.disabled = false;
  }
}

// ---- views ----

function view(title) {
  viewAbort.abort();
  viewAbort = new AbortController();
  clearProblem();
  document.title = `${title} · ledgerless`;
  const heading = h("h1", { tabindex: "-1" }, title);
  $("main").replaceChildren(heading);
  heading.focus({ preventScroll: true }); // where a keyboard or screen reader user continues
  for (const a of document.querySelectorAll("nav a")) {
    const current = (location.hash || "#/").startsWith(a.getAttribute("href")) &&
      (a.getAttribute("href") !== "#/" || !location.hash.startsWith("#/controller"));
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  return { main: $("main"), signal: viewAbort.signal, heading };
}

function yesNo(v, yes = "yes", no = "no") { return h("span", { class: v ? "yes" : "no" }, v ? yes : no); }
function masterText(g) { return g.masterBrokerId ? `#${g.masterBrokerId} ${g.masterAddress}` : "none"; }
function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : new Date(iso).toLocaleString();
}
function table(caption, head, rows) {
  return h("div", { class: "scroll" }, h("table", {}, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map(([t, num]) => h("th", { scope: "col", class: num ? "num" : null }, t)))),
    h("tbody", {}, rows)));
}

const groupHead = [["Group"], ["Master"], ["masterEpoch", 1], ["syncStateSetEpoch", 1], ["SyncStateSet"],
  ["Alive/total", 1], ["Paused"], ["Alive, not in sync"]];

function groupRow(g, live) {
  const alive = g.brokers.filter((b) => b.alive);
  const lagging = alive.filter((b) => !b.inSync).map((b) => `#${b.brokerId}`);
  return h("tr", { "data-group": `${g.cluster}/${g.group}` },
    h("th", { scope: "row" }, h("a", { href: `#/g/${enc(g.cluster)}/${enc(g.group)}` }, g.group),
      live ? null : h("span", { class: "muted" }, " (not live)")),
    h("td", { class: g.masterBrokerId ? "master" : "no", "data-field": "master" }, masterText(g)),
    h("td", { class: "num" }, g.masterEpoch), h("td", { class: "num" }, g.syncStateSetEpoch),
    h("td", {}, g.syncStateSet.map((id) => `#${id}`).join(", ") || "empty"),
    h("td", { class: "num" }, `${alive.length}/${g.brokers.length}`),
    h("td", {}, g.paused ? h("span", { class: "warn" }, "paused") : "no"),
    h("td", { class: lagging.length ? "warn" : "" }, lagging.join(", ") || "none"));
}

async function overview() {
  const { main, signal } = view("Broker groups");
  const { data } = await api("GET", "/v1/clusters", undefined, signal);
  if (!data.clusters.length) main.append(h("p", {}, "No broker has registered with the controller yet."));
  let live = 0;
  for (const c of data.clusters) {
    const { data: gs } = await api("GET", `/v1/clusters/${enc(c.cluster)}/groups`, undefined, signal);
    const rows = gs.groups.map((g) => {
      const isLive = live++ < LIVE_GROUPS;
      const row = { tr: groupRow(g, isLive) };
      if (isLive) {
        follow(g.cluster, g.group, signal, (next, problem) => {
          if (!next) { row.tr.lastElementChild.textContent = problem.title; return; }
          const tr = groupRow(next, true);
          row.tr.replaceWith(tr);
          row.tr = tr;
        });
      }
      return row.tr;
    });
    main.append(h("section", {}, h("h2", {}, `Cluster ${c.cluster}`), table(`Groups of cluster ${c.cluster}`, groupHead, rows)));
  }
  if (live > LIVE_GROUPS) {
    main.append(h("p", { class: "muted" }, `The first ${LIVE_GROUPS} groups follow changes live; open a group for its live view, or reload.`));
  }
}

function brokerRows(g, adminCell) {
  const master = g.brokers.find((b) => b.brokerId === g.masterBrokerId);
  return g.brokers.map((b) => {
    const isMaster = b.brokerId === g.masterBrokerId;
    const lag = master ? master.maxOffset - b.maxOffset : null;
    return h("tr", { "data-broker": b.brokerId, class: isMaster ? "master" : null },
      h("th", { scope: "row" }, `#${b.brokerId}`),
      h("td", { "data-field": "role" }, isMaster ? "master" : b.alive ? "slave" : "—"),
      h("td", {}, b.address), h("td", {}, yesNo(b.alive)), h("td", {}, yesNo(b.inSync)),
      h("td", { class: "num" }, b.epoch), h("td", { class: "num" }, b.maxOffset),
      h("td", { class: "num" }, lag == null ? "—" : lag < 0 ? `${-lag} ahead` : lag), h("td", { class: "num" }, b.confirmOffset),
      h("td", { class: "num" }, b.electionPriority),
      h("td", {}, h("time", { datetime: b.lastHeartbeat || "", title: b.lastHeartbeat || "" }, ago(b.lastHeartbeat))),
      adminCell ? h("td", {}, adminCell(b)) : null);
  });
}

const brokerHead = [["Broker"], ["Role"], ["Address"], ["Alive"], ["In sync"], ["Epoch", 1], ["maxOffset", 1],
  ["Lag", 1], ["confirmOffset", 1], ["Priority", 1], ["Last heartbeat"]];

async function groupView(c, g) {
  const { main, signal } = view(`Group ${c}/${g}`);
  const path = groupPath(c, g);
  const key = `${c}/${g}`;
  const summary = h("dl", { id: "summary" });
  const actions = h("div", { class: "actions", id: "actions" });
  const brokers = h("div", { id: "brokers" });
  const history = h("ol", { class: "timeline", id: "history" });
  const older = h("p");
  main.append(h("section", { "aria-labelledby": "s-state" }, h("h2", { id: "s-state" }, "State"), summary));
  if (isAdmin()) main.append(h("section", { "aria-labelledby": "s-act" }, h("h2", { id: "s-act" }, "Actions"), actions));
  main.append(h("section", { "aria-labelledby": "s-brokers" }, h("h2", { id: "s-brokers" }, "Brokers"), brokers),
    h("section", { "aria-labelledby": "s-history" }, h("h2", { id: "s-history" }, "Election history"), history, older));

  let current = null;
  let shownEpoch = -1;
  const target = h("select", { id: "elect-target" });
  // Disabled until the configuration says whether the group is paused.
  const pauseButton = h("button", { type: "button", id: "pause-group", "data-admin": "pause-group", disabled: true },
    "Pause this group");

  async function loadHistory(before) {
    const q = before ? `&before=${before}` : "";
    const { data } = await api("GET", `${path}/history?limit=20${q}`, undefined, signal);
    if (!before) history.replaceChildren();
    for (const e of data.items) {
      history.append(h("li", { "data-epoch": e.masterEpoch },
        h("strong", {}, `Epoch ${e.masterEpoch}: `),
        `${e.oldMasterBrokerId ? "#" + e.oldMasterBrokerId : "none"} → ${e.newMasterBrokerId ? "#" + e.newMasterBrokerId : "none"}`,
        h("br"), h("span", { class: "muted" }, `${e.reason} · committed by replica ${e.replica} · `,
          h("time", { datetime: e.time }, new Date(e.time).toLocaleString()))));
    }
    if (!data.items.length && !before) history.append(h("li", {}, "No election yet."));
    older.replaceChildren(data.next ? h("button", { type: "button", onclick: () => loadHistory(data.next) }, "Older elections") : "");
  }

  async function pausedHere() {
    const { data } = await api("GET", "/v1/config", undefined, signal);
    return data.pausedGroups.includes(key);
  }
  async function refreshPause() {
    try {
      const paused = await pausedHere();
      pauseButton.textContent = paused ? "Resume this group" : "Pause this group";
      pauseButton.dataset.paused = paused;
      pauseButton.disabled = false;
    } catch (e) {
      if (!(e instanceof Problem || e instanceof Lost)) throw e;
    }
  }

  if (isAdmin()) {
    const elect = h("button", { type: "button", class: "danger", "data-admin": "switchover", onclick: () => {
      const id = Number(target.value);
      const to = id ? `broker #${id}` : "the best candidate the controller finds";
      act(elect, "Switchover", `Elect ${to} as master of ${key}? The current master steps down.`,
        () => api("POST", `${path}/elect`, id ? { brokerId: id } : {})).then((done) => { if (done) target.value = ""; });
    } }, "Switch over");
    pauseButton.addEventListener("click", async () => {
      const pause = pauseButton.dataset.paused !== "true";
      await act(pauseButton, pause ? "Pause group" : "Resume group",
        pause ? `Stop automatic elections in ${key}? Its master stays; a dead master is not replaced.`
          : `Resume automatic elections in ${key}?`,
        async () => {
          // Read, change and write back only if nobody wrote in between
          // (If-Match), so that a pause of another group is not lost.
          for (let attempt = 1; ; attempt++) {
            const { data, etag } = await api("GET", "/v1/config", undefined, signal);
            const list = data.pausedGroups.filter((x) => x !== key);
            if (pause) list.push(key);
            try {
              await api("PATCH", "/v1/config", { pausedGroups: list }, undefined, etag ? { "If-Match": etag } : {});
              return;
            } catch (e) {
              if (!(e instanceof Problem) || e.status !== 412 || attempt === 10) throw e;
            }
          }
        });
      refreshPause();
    });
    actions.append(h("div", { class: "field" }, h("label", { for: "elect-target" }, "Switch over to"), target), elect, pauseButton);
    refreshPause();
  }

  function clean(b) {
    const force = h("input", { type: "checkbox", id: "clean-force" });
    const button = h("button", { type: "button", class: "danger", "data-admin": "clean",
      "aria-label": `Clean broker #${b.brokerId}`, onclick: () => act(button, `Clean broker #${b.brokerId}`,
        `Remove broker #${b.brokerId} (${b.address}) and its metadata from ${key}?`,
        () => api("DELETE", `${path}/brokers/${b.brokerId}${force.checked ? "?force=true" : ""}`),
        h("p", { class: "field check" }, force, h("label", { for: "clean-force" }, "Force: remove it even though it is alive"))) },
    "Clean");
    return button;
  }

  function show(grp, problem) {
    if (!grp) {
      summary.replaceChildren(h("dt", {}, "Group"), h("dd", { class: "no" }, `${problem.title}: ${problem.detail}`));
      return;
    }
    current = grp;
    const alive = grp.brokers.filter((b) => b.alive).length;
    summary.replaceChildren(
      h("dt", {}, "Master"), h("dd", { id: "master", class: grp.masterBrokerId ? "master" : "no" }, masterText(grp)),
      h("dt", {}, "masterEpoch"), h("dd", { id: "master-epoch" }, grp.masterEpoch),
      h("dt", {}, "SyncStateSet"), h("dd", {}, grp.syncStateSet.map((id) => `#${id}`).join(", ") || "empty"),
      h("dt", {}, "syncStateSetEpoch"), h("dd", {}, grp.syncStateSetEpoch),
      h("dt", {}, "Alive/total"), h("dd", {}, `${alive}/${grp.brokers.length}`),
      h("dt", {}, "Paused"), h("dd", {}, grp.paused ? h("span", { class: "warn" }, "paused: no automatic elections") : "no"));
    const head = isAdmin() ? [...brokerHead, ["Admin"]] : brokerHead;
    brokers.replaceChildren(table(`Brokers of ${key}`, head, brokerRows(grp, isAdmin() ? clean : null)));
    if (isAdmin()) {
      const chosen = target.value;
      fill(target, h("option", { value: "" }, "best candidate (the controller decides)"),
        grp.brokers.map((b) => h("option", { value: b.brokerId },
          `#${b.brokerId} ${b.address}${b.alive ? "" : " (not alive)"}${b.brokerId === grp.masterBrokerId ? " (master)" : ""}`)));
      target.value = chosen;
    }
    if (grp.masterEpoch !== shownEpoch) {
      shownEpoch = grp.masterEpoch;
      loadHistory().catch((e) => {
        if (e instanceof Problem) fill(history, h("li", { class: "no" }, `${e.title}: ${e.detail}`));
        else if (!(e instanceof Lost || e.name === "AbortError")) throw e;
      });
    }
  }
  follow(c, g, signal, show);
  return current;
}

// CONTROLLER_REFRESH is how often the controller view reads the replicas
// again: nothing long-polls them, and a replica that stops shows here.
const CONTROLLER_REFRESH = 10000;

function readOnlyConfig(cfg) {
  return h("dl", { id: "config" },
    h("dt", {}, "enableElectUncleanMaster"), h("dd", {}, String(cfg.enableElectUncleanMaster)),
    h("dt", {}, "paused"), h("dd", {}, String(cfg.paused)),
    h("dt", {}, "pausedGroups"), h("dd", {}, cfg.pausedGroups.join(", ") || "none"),
    h("dt", {}, "defaultHeartbeatTimeoutMs"), h("dd", {}, cfg.defaultHeartbeatTimeoutMs));
}

function controllerSections(ctl) {
  const rows = ctl.replicas.map((r) => h("tr", { "data-replica": r.id },
    h("th", { scope: "row" }, r.id, me && r.id === me.replica ? h("span", { class: "muted" }, " (this page)") : null),
    h("td", {}, r.address), h("td", {}, r.version), h("td", {}, new Date(r.startedAt).toLocaleString()),
    h("td", {}, yesNo(r.alive))));
  return [h("h2", {}, "Replicas"),
    table("Controller replicas", [["Replica"], ["Address"], ["Version"], ["Started"], ["Alive"]], rows),
    h("h2", {}, "etcd"), h("dl", {},
      h("dt", {}, "Endpoints"), h("dd", {}, ctl.etcd.endpoints.join(", ")),
      h("dt", {}, "Leader"), h("dd", {}, ctl.etcd.leader || "unknown"),
      h("dt", {}, "Embedded"), h("dd", {}, ctl.etcd.embedded ? "yes, in the replicas" : "no, external"))];
}

async function controllerView() {
  const { main, signal } = view("Controller");
  const [{ data: ctl }, { data: cfg }] = await Promise.all([
    api("GET", "/v1/controller", undefined, signal), api("GET", "/v1/config", undefined, signal)]);
  replicas = ctl.replicas;
  const live = h("section", { id: "replicas" }, controllerSections(ctl));
  const config = h("section", { "aria-labelledby": "s-config" }, h("h2", { id: "s-config" }, "Runtime configuration"),
    isAdmin() ? configForm(cfg) : readOnlyConfig(cfg));
  main.append(live, config);
  // Refresh what no one edits here (an admin's form is left alone).
  while (!signal.aborted) {
    await sleep(CONTROLLER_REFRESH, signal);
    if (signal.aborted) return;
    try {
      const [{ data: next }, { data: nextCfg }] = await Promise.all([
        api("GET", "/v1/controller", undefined, signal), api("GET", "/v1/config", undefined, signal)]);
      replicas = next.replicas;
      fill(live, controllerSections(next));
      if (!isAdmin()) $("config").replaceWith(readOnlyConfig(nextCfg));
    } catch (e) {
      if (signal.aborted || e.name === "AbortError") return;
      if (e instanceof Lost) await findReplica();
      else if (e instanceof Problem) showProblem("reading", e);
      else throw e;
    }
  }
}

function configForm(cfg) {
  const unclean = h("input", { type: "checkbox", id: "cfg-unclean", checked: cfg.enableElectUncleanMaster });
  const paused = h("input", { type: "checkbox", id: "cfg-paused", checked: cfg.paused });
  const groups = h("input", { type: "text", id: "cfg-groups", value: cfg.pausedGroups.join(", "), size: 40,
    placeholder: "cluster/group, cluster/group" });
  const timeout = h("input", { type: "number", id: "cfg-timeout", value: cfg.defaultHeartbeatTimeoutMs, step: 1 });
  const save = h("button", { type: "submit", class: "danger", "data-admin": "config" }, "Save configuration");
  const pauseAll = h("button", { type: "button", "data-admin": "pause-all", onclick: () => setAll(!cfg.paused) },
    cfg.paused ? "Resume all groups" : "Pause all groups");
  // A saved change redraws the form from the configuration the PATCH
  // answered, at once.
  let saved = null;
  const patch = (body) => api("PATCH", "/v1/config", body).then((r) => { saved = r.data; });
  async function setAll(pause) {
    if (await act(pauseAll, pause ? "Pause all groups" : "Resume all groups",
      pause ? "Stop automatic elections in every group?" : "Resume automatic elections in every group?",
      () => patch({ paused: pause }))) form.replaceWith(configForm(saved));
  }
  const form = h("form", { class: "actions", onsubmit: async (ev) => {
    ev.preventDefault();
    const change = {};
    if (unclean.checked !== cfg.enableElectUncleanMaster) change.enableElectUncleanMaster = unclean.checked;
    if (paused.checked !== cfg.paused) change.paused = paused.checked;
    const list = groups.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (list.join(",") !== cfg.pausedGroups.join(",")) change.pausedGroups = list;
    if (Number(timeout.value) !== cfg.defaultHeartbeatTimeoutMs) change.defaultHeartbeatTimeoutMs = Number(timeout.value);
    if (!Object.keys(change).length) { setStatus("The configuration is unchanged.", ""); return; }
    if (await act(save, "Change the runtime configuration", `Apply ${JSON.stringify(change)} on every replica?`,
      () => patch(change))) form.replaceWith(configForm(saved));
  } },
  h("p", { class: "field check" }, unclean, h("label", { for: "cfg-unclean" }, "Elect an unclean master (one outside the SyncStateSet) when no clean one is alive")),
  h("p", { class: "field check" }, paused, h("label", { for: "cfg-paused" }, "Paused: no automatic elections anywhere")),
  h("p", { class: "field" }, h("label", { for: "cfg-groups" }, "Paused groups"), groups),
  h("p", { class: "field" }, h("label", { for: "cfg-timeout" }, "Default heartbeat timeout (ms)"), timeout),
  save, pauseAll);
  return form;
}

// ---- start ----

function render() {
  if ($("status").className === "ok") setStatus(""); // an action's "done" stays until the next view
  const parts = (location.hash || "#/").replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  let p;
  if (parts[0] === "g" && parts.length === 3) p = groupView(parts[1], parts[2]);
  else if (parts[0] === "controller") p = controllerView();
  else p = overview();
  p.catch(failed);
}

function failed(e) {
  if (e.name === "AbortError") return;
  if (e instanceof Lost) { findReplica().then(render); return; }
  if (e instanceof Problem) {
    if (e.status === 401) return;
    showProblem("reading", e);
    return;
  }
  throw e;
}

async function start() {
  clearProblem();
  try {
    me = (await api("GET", "/v1/whoami")).data;
  } catch (e) {
    if (e instanceof Problem && e.status === 401) return;
    failed(e);
    return;
  }
  fill($("who"), h("span", { id: "identity" }, `replica ${me.replica}`,
    me.authenticated ? ` · ${me.name} (${me.role})` : ""),
  me.authenticated ? h("button", { type: "button", onclick: signOut }, "Sign out") : null);
  try { replicas = (await api("GET", "/v1/controller")).data.replicas; } catch (e) {
    if (!(e instanceof Problem)) throw e; // a broker's token may not read it
  }
  render();
}

window.addEventListener("hashchange", render);
const from = new URLSearchParams(location.search).get("from");
if (from) {
  setStatus(`Moved here from replica ${from}, which stopped answering.`, "bad");
  history.replaceState(null, "", location.pathname + location.hash);
}
start();
