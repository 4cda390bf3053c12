// The operator console: plain ES modules, no build step. It calls only the public API and the
// socket, with the signed-in user's token; the API's role checks apply unchanged (controls a role
// cannot use are hidden, and the API refuses them anyway).

const state = { config: null, token: null, claims: null, socket: null, listeners: new Set() };

// Which controls to show (the API's matrix is shared/core/auth/rbac.py; it decides).
const CAN = {
  viewer: new Set(["read"]),
  rep: new Set(["read", "run", "decide", "generate"]),
  manager: new Set(["read", "run", "decide", "generate", "usage", "models", "manage_runs"]),
  admin: new Set(["read", "run", "decide", "generate", "usage", "models", "manage_runs", "configure"]),
};
const can = (what) => (state.claims?.roles || []).some((r) => CAN[r]?.has(what));

// --- DOM helper: text only, never HTML from data ---------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const main = () => document.getElementById("main");
function render(...nodes) {
  main().replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
}
function toast(text) {
  const t = h("div", {}, text);
  document.getElementById("toast").append(t);
  setTimeout(() => t.remove(), 4000);
}
const money = (v) => `$${Number(v || 0).toFixed(4)}`;
const when = (v) => (v ? new Date(v).toLocaleString() : "");
const statusBadge = (s) => h("span", { class: `status ${s}` }, s.replaceAll("_", " "));

// --- API ------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.field = body?.error?.field;
  }
}

async function api(method, path, body, extra = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method === "POST" && !headers["Idempotency-Key"]) headers["Idempotency-Key"] = crypto.randomUUID();
  const res = await fetch(state.config.api + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    signOut("Your session ended; sign in again.");
    throw new ApiError(401, {});
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function errorBox(err) {
  const where = err.field ? ` (${err.field})` : "";
  return h("p", { class: "error", role: "alert" }, `${err.message}${where}`);
}

// --- socket: one /ws connection, events fanned out to the current page ------------------------
function connectSocket() {
  if (state.socket) state.socket.close();
  const ws = new WebSocket(`${state.config.socket}/ws`, ["bearer", state.token]);
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "event") for (const fn of state.listeners) fn(msg.event);
    // Events were lost for this client, or it (re)connected: pages re-read what they show.
    if (msg.type === "resync" || (msg.type === "ready" && state.socketOpened)) for (const fn of state.listeners) fn({ event_type: "*" });
    if (msg.type === "ready") state.socketOpened = true;
  };
  ws.onclose = (e) => {
    if (state.socket === ws && state.token && e.code !== 4401) setTimeout(connectSocket, 2000);
  };
  state.socket = ws;
}
function onEvents(fn) {
  state.listeners.add(fn);
  return fn;
}

// --- sign-in ----------------------------------------------------------------------------------
function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

function signIn(token) {
  const claims = decodeClaims(token);
  if (!claims || !claims.tenant_id) throw new Error("that is not a CRM user token");
  state.token = token;
  state.claims = claims;
  sessionStorage.setItem("token", token);
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = `${claims.sub} · ${claims.tenant_id} · ${claims.roles.join(", ")}`;
  connectSocket();
}

function signOut(message) {
  state.token = null;
  state.claims = null;
  sessionStorage.removeItem("token");
  if (state.socket) state.socket.close();
  state.socket = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").textContent = "";
  signInPage(message);
}

function signInPage(message) {
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const pasted = h("textarea", { id: "token", "aria-label": "Token", placeholder: "eyJhbGciOi..." });
  const demo = state.config.demo_token_url
    ? h(
        "div",
        {},
        h("h2", {}, "Sign in as a demo role (local stack only)"),
        ...["viewer", "rep", "manager", "admin"].map((role) =>
          h(
            "button",
            {
              class: "secondary",
              "data-role": role,
              onclick: async () => {
                const res = await fetch(state.config.demo_token_url, {
                  method: "POST",
                  headers: { "Content-Type": "application/json" },
                  body: JSON.stringify({ role }),
                });
                const body = await res.json();
                signIn(body.token);
                location.hash = "#/workflows";
                route();
              },
            },
            role,
          ),
          " ",
        ),
      )
    : null;
  const oidc = state.config.oidc
    ? h(
        "p",
        {},
        h("button", { id: "oidc-sign-in", onclick: () => oidcStart().catch((e) => (error.textContent = e.message)) }, "Sign in with your CRM account"),
        " ",
        h("span", { class: "muted" }, state.config.oidc.issuer),
      )
    : null;
  render(
    h("h1", {}, "Sign in"),
    error,
    oidc,
    demo,
    h("h2", {}, "Or paste a token"),
    h("p", { class: "muted" }, "A CRM user token (JWT). Locally: ./scripts/token --tenant demo --role admin"),
    pasted,
    h(
      "p",
      {},
      h(
        "button",
        {
          onclick: () => {
            try {
              signIn(pasted.value.trim());
              location.hash = "#/workflows";
              route();
            } catch (e) {
              error.textContent = e.message;
            }
          },
        },
        "Sign in",
      ),
    ),
  );
}

// --- OIDC sign-in: authorization code with PKCE, a public client (no secret in a browser) -----
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const redirectUri = () => location.origin + location.pathname;

async function oidcStart() {
  const { issuer, client_id } = state.config.oidc;
  const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`the identity provider answered ${res.status}`);
  const meta = await res.json();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("oidc", JSON.stringify({ verifier, state: nonce, token_endpoint: meta.token_endpoint }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id,
    redirect_uri: redirectUri(),
    scope: "openid",
    state: nonce,
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  });
  location.assign(`${meta.authorization_endpoint}?${query}`);
}

// Back from the provider with ?code=&state= (or ?error=): exchange the code once, then clean the URL.
async function oidcFinish() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return;
  const saved = JSON.parse(sessionStorage.getItem("oidc") || "null");
  sessionStorage.removeItem("oidc");
  history.replaceState(null, "", `${location.pathname}#/workflows`);
  if (params.has("error")) throw new Error(`sign-in refused: ${params.get("error")}`);
  if (!saved || saved.state !== params.get("state")) throw new Error("the sign-in answer does not match the request (state)");
  const res = await fetch(saved.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: state.config.oidc.client_id,
      code_verifier: saved.verifier,
    }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`sign-in failed: ${body.error_description || body.error}`);
  signIn(body.access_token);
}

// --- charts -----------------------------------------------------------------------------------
const charts = [];
function chart(label, type, labels, datasets, options = {}) {
  labels = labels || undefined;
  const canvas = h("canvas", { role: "img", "aria-label": label });
  const box = h("div", { class: "chart" }, canvas);
  queueMicrotask(() => {
    charts.push(
      new window.Chart(canvas, {
        type,
        data: labels ? { labels, datasets } : { datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false, ...options },
      }),
    );
  });
  return box;
}

// --- pages --------------------------------------------------------------------------------------
const TYPES = ["lead_qualification", "outreach_draft", "interaction_triage"];
const STATUSES = ["queued", "running", "waiting_for_human", "completed", "failed", "cancelled"];

async function workflowsPage() {
  const filters = { status: new URLSearchParams(location.hash.split("?")[1] || "").get("status") || "", type: "" };
  const list = h("div", { id: "runs" });
  const statusSel = h("select", { id: "filter-status", "aria-label": "Status" }, h("option", { value: "" }, "any status"), ...STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const typeSel = h("select", { id: "filter-type", "aria-label": "Type" }, h("option", { value: "" }, "any type"), ...TYPES.map((t) => h("option", { value: t }, t)));
  async function load() {
    const q = new URLSearchParams();
    if (statusSel.value) q.set("status", statusSel.value);
    if (typeSel.value) q.set("type", typeSel.value);
    try {
      const page = await api("GET", `/api/v1/ai/workflows?${q}`);
      list.replaceChildren(runTable(page.runs));
    } catch (e) {
      list.replaceChildren(errorBox(e));
    }
  }
  statusSel.onchange = load;
  typeSel.onchange = load;
  const start = can("run") ? startForm(load) : null;
  onEvents((event) => {
    if (event.event_type.startsWith("workflow.") || event.event_type === "*") load();
  });
  render(h("h1", {}, "Workflows"), start, h("form", { class: "row", onsubmit: (e) => e.preventDefault() }, h("label", {}, "Status", statusSel), h("label", {}, "Type", typeSel)), list);
  await load();
}

function runTable(runs) {
  if (!runs.length) return h("p", { class: "muted" }, "No runs.");
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...["Run", "Type", "Status", "Created", "Tokens", "Cost"].map((c) => h("th", {}, c)))),
    h(
      "tbody",
      {},
      ...runs.map((r) =>
        h(
          "tr",
          { "data-run": r.run_id },
          h("td", {}, h("a", { href: `#/workflows/${r.run_id}` }, r.run_id)),
          h("td", {}, r.type),
          h("td", {}, statusBadge(r.status)),
          h("td", {}, when(r.created_at)),
          h("td", {}, r.tokens),
          h("td", {}, money(r.cost_usd)),
        ),
      ),
    ),
  );
}

function startForm(after) {
  const type = h("select", { name: "type", "aria-label": "Workflow type" }, ...TYPES.map((t) => h("option", { value: t }, t)));
  const lead = h("input", { name: "lead_id", "aria-label": "Lead id", value: "lead-1001" });
  const message = h("input", { name: "message", "aria-label": "Inbound message", placeholder: "message (triage)" });
  const out = h("span", { role: "status" });
  return h(
    "form",
    {
      class: "row card",
      id: "start-run",
      onsubmit: async (e) => {
        e.preventDefault();
        const body = type.value === "interaction_triage" ? { type: type.value, input: { message: message.value } } : { type: type.value, lead_id: lead.value };
        try {
          const run = await api("POST", "/api/v1/ai/workflows", body);
          out.replaceChildren("Started ", h("a", { href: `#/workflows/${run.run_id}` }, run.run_id));
          after();
        } catch (err) {
          out.replaceChildren(errorBox(err));
        }
      },
    },
    h("label", {}, "Type", type),
    h("label", {}, "Lead", lead),
    h("label", {}, "Message", message),
    h("button", { type: "submit" }, "Start a run"),
    out,
  );
}

async function runPage(runId) {
  const box = h("div", {});
  async function load() {
    try {
      const run = await api("GET", `/api/v1/ai/workflows/${runId}`);
      box.replaceChildren(runDetail(run));
    } catch (e) {
      box.replaceChildren(errorBox(e));
    }
  }
  // This run's own stream: the product path, tenant-checked by the service.
  const ws = new WebSocket(`${state.config.socket}/ws/ai/workflows/${encodeURIComponent(runId)}`, ["bearer", state.token]);
  ws.onmessage = (m) => {
    if (JSON.parse(m.data).type === "event") load();
  };
  state.pageCleanup = () => ws.close();
  render(h("h1", {}, `Run ${runId}`), box);
  await load();
}

function runDetail(run) {
  const steps = run.steps || [];
  const actions = run.actions || [];
  return h(
    "div",
    {},
    h("p", {}, statusBadge(run.status), ` ${run.type} · tokens ${run.tokens} · ${money(run.cost_usd)} · updated ${when(run.updated_at)}`, h("span", { id: "run-status", "data-status": run.status, hidden: true }, run.status)),
    run.degraded ? h("p", { class: "error" }, `Degraded: ${JSON.stringify(run.degraded)}`) : null,
    run.error ? h("p", { class: "error" }, `Error: ${JSON.stringify(run.error)}`) : null,
    h("h2", {}, "Timeline"),
    steps.length
      ? h("ol", {}, ...steps.map((s) => h("li", {}, h("strong", {}, s.node), ` ${s.status || ""} ${s.at ? when(s.at) : ""} `, s.summary ? h("span", { class: "muted" }, s.summary) : null)))
      : h("p", { class: "muted" }, "No steps yet."),
    h("h2", {}, "Model calls and actions"),
    actions.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ...["Action", "Template", "Model", "Tokens in/out", "Cost"].map((c) => h("th", {}, c)))), h("tbody", {}, ...actions.map((a) => h("tr", {}, h("td", {}, a.kind || a.action || a.node || ""), h("td", {}, a.template || ""), h("td", {}, a.model || ""), h("td", {}, `${a.input_tokens ?? ""} / ${a.output_tokens ?? ""}`), h("td", {}, a.cost_usd !== undefined ? money(a.cost_usd) : "")))))
      : h("p", { class: "muted" }, "None."),
    run.pending_task ? h("p", {}, "Waiting for a person: ", h("a", { href: "#/approvals" }, "open the approvals inbox")) : null,
    run.output ? h("div", {}, h("h2", {}, "Output"), h("pre", {}, JSON.stringify(run.output, null, 2))) : null,
  );
}

async function approvalsPage() {
  const list = h("div", { id: "inbox" });
  async function load() {
    try {
      const page = await api("GET", "/api/v1/ai/workflows?status=waiting_for_human");
      const runs = await Promise.all(page.runs.map((r) => api("GET", `/api/v1/ai/workflows/${r.run_id}`)));
      list.replaceChildren(...(runs.length ? runs.map(approvalCard) : [h("p", { class: "muted" }, "Nothing waits for a person.")]));
    } catch (e) {
      list.replaceChildren(errorBox(e));
    }
  }
  onEvents((event) => {
    if (event.event_type.startsWith("workflow.") || event.event_type === "*") load();
  });
  render(h("h1", {}, "Approvals inbox"), list);
  await load();
}

function draftOf(task) {
  return task.draft || task.proposal || task.payload || {};
}

function approvalCard(run) {
  const task = run.pending_task || {};
  const draft = draftOf(task);
  const fields = Object.entries(draft).filter(([, v]) => typeof v === "string");
  const inputs = Object.fromEntries(fields.map(([k, v]) => [k, k === "body" ? h("textarea", { name: k, "aria-label": k }, v) : h("input", { name: k, "aria-label": k, value: v, size: 60 })]));
  const diff = h("div", { class: "diff" });
  const out = h("span", { role: "status" });
  const showDiff = () => diff.replaceChildren(...fields.filter(([k, v]) => inputs[k].value !== v).map(([k, v]) => h("p", {}, h("strong", {}, `${k}: `), h("del", {}, v), " ", h("ins", {}, inputs[k].value))));
  Object.values(inputs).forEach((i) => i.addEventListener("input", showDiff));
  async function decide(decision) {
    const body = { task_id: task.task_id, decision };
    if (decision === "edit") body.edited = Object.fromEntries(fields.map(([k]) => [k, inputs[k].value]).filter(([k, v]) => v !== draft[k]));
    try {
      await api("PUT", `/api/v1/ai/workflows/${run.run_id}/continue`, body);
      out.textContent = `${decision}: sent`;
      toast(`Run ${run.run_id}: ${decision}`);
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  }
  const controls = can("decide")
    ? h("p", {}, h("button", { onclick: () => decide("approve"), "data-action": "approve" }, "Approve"), " ", h("button", { class: "secondary", onclick: () => decide("edit") }, "Save edits and approve"), " ", h("button", { class: "danger", onclick: () => decide("reject") }, "Reject"), " ", out)
    : h("p", { class: "muted" }, "Viewers can read drafts; a rep or manager decides.");
  return h(
    "div",
    { class: "card", "data-run": run.run_id },
    h("p", {}, h("a", { href: `#/workflows/${run.run_id}` }, run.run_id), ` · ${run.type} · `, statusBadge(run.status)),
    task.kind ? h("p", { class: "muted" }, task.kind) : null,
    ...fields.map(([k]) => h("label", { style: "display:flex" }, k, inputs[k])),
    fields.length ? null : h("pre", {}, JSON.stringify(task, null, 2)),
    diff,
    controls,
  );
}

async function leadsPage() {
  const result = h("div", {});
  const lead = h("input", { name: "lead_id", "aria-label": "Lead id", value: "lead-1001" });
  const form = can("run")
    ? h(
        "form",
        {
          class: "row card",
          onsubmit: async (e) => {
            e.preventDefault();
            try {
              const score = await api("POST", "/api/v1/ai/scoring/leads", { lead_id: lead.value });
              result.replaceChildren(scoreView(score));
            } catch (err) {
              result.replaceChildren(errorBox(err));
            }
          },
        },
        h("label", {}, "Lead", lead),
        h("button", { type: "submit" }, "Score"),
      )
    : h("p", {}, "Scores are read-only for viewers.");
  const models = h("div", {});
  render(h("h1", {}, "Leads and models"), form, result, h("h2", {}, "Model registry"), models);
  try {
    const reg = await api("GET", "/api/v1/ai/scoring/models");
    models.replaceChildren(modelsView(reg));
    await loadModelExtras();
  } catch (e) {
    models.replaceChildren(errorBox(e));
  }
}

function scoreView(score) {
  const comps = score.reasoning || score.components || [];
  return h(
    "div",
    { class: "card" },
    h("p", {}, h("strong", { id: "score" }, `Score ${score.score}`), ` · confidence ${score.confidence} · model ${score.model_version || ""}`),
    comps.length ? chart("Score reasons", "bar", comps.map((c) => c.field), [{ label: "points", data: comps.map((c) => c.points), backgroundColor: comps.map((c) => (c.points >= 0 ? "#1e6b35" : "#a4262c")) }], { indexAxis: "y" }) : null,
    h("ul", {}, ...comps.map((c) => h("li", {}, `${c.field}: ${c.points > 0 ? "+" : ""}${c.points} · ${c.explanation || ""}`))),
  );
}

function modelsView(reg) {
  const models = reg.models || [];
  const fmt = (v) => (typeof v === "number" ? v.toFixed(3) : v ?? "");
  const rows = models.map((m) => {
    const metrics = m.metrics || {};
    return h("tr", {}, h("td", {}, m.version), h("td", {}, m.status), h("td", {}, fmt(metrics.auc)), h("td", {}, fmt(metrics.ece)), h("td", {}, fmt(metrics.brier)), h("td", {}, metrics.rows ?? ""), h("td", {}, when(m.created_at)));
  });
  const shown = models.find((m) => m.version === reg.assignment?.champion) || models[0];
  const metrics = shown?.metrics || {};
  const roc = metrics.roc || [];
  const calibration = metrics.calibration || [];
  const lift = metrics.lift_by_decile || [];
  return h(
    "div",
    {},
    models.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ...["Version", "Status", "AUC", "ECE", "Brier", "Held-out rows", "Trained"].map((c) => h("th", {}, c)))), h("tbody", {}, ...rows))
      : h("p", { class: "muted" }, "No model trained yet: the global prior scores."),
    shown
      ? h(
          "div",
          {},
          h("p", { class: "muted" }, `Plots of ${shown.version} (${shown.status}) on its held-out rows`),
          h(
            "div",
            { class: "grid" },
            h("div", {}, h("h2", {}, "ROC curve"), chart("ROC curve", "scatter", null, [
              { label: `${shown.version} (AUC ${fmt(metrics.auc)})`, data: roc.map((pt) => ({ x: pt.fpr, y: pt.tpr })), showLine: true, pointRadius: 0 },
              { label: "chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0, borderDash: [4, 4] },
            ], { scales: { x: { min: 0, max: 1, title: { display: true, text: "false positive rate" } }, y: { min: 0, max: 1, title: { display: true, text: "true positive rate" } } } })),
            h("div", {}, h("h2", {}, "Calibration"), chart("Calibration", "scatter", null, [
              { label: "observed rate by predicted", data: calibration.map((b) => ({ x: b.predicted, y: b.observed })), showLine: true },
              { label: "perfect", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0, borderDash: [4, 4] },
            ], { scales: { x: { min: 0, max: 1, title: { display: true, text: "predicted" } }, y: { min: 0, max: 1, title: { display: true, text: "observed" } } } })),
            h("div", {}, h("h2", {}, "Lift by decile"), chart("Lift by decile", "bar", lift.map((d) => d.decile), [{ label: "lift over the base rate", data: lift.map((d) => d.lift) }])),
          ),
        )
      : null,
    h("h2", {}, "A/B test"),
    h("div", { id: "abtest" }, can("models") ? h("p", { class: "muted" }, "Loading...") : h("p", { class: "muted" }, "A/B results are for managers and admins.")),
    h("h2", {}, "Drift"),
    h("div", { id: "drift" }),
  );
}

async function loadModelExtras() {
  const drift = document.getElementById("drift");
  try {
    const report = await api("GET", "/api/v1/ai/scoring/drift");
    const psi = Object.entries(report.feature_psi || {});
    drift.replaceChildren(
      h("p", {}, `Status: ${report.status}`, report.checked_at ? ` · checked ${when(report.checked_at)} · ${report.scored_leads} scored leads` : "", report.score_psi !== undefined && report.score_psi !== null ? ` · score PSI ${report.score_psi.toFixed(3)}` : ""),
      report.realised ? h("p", {}, `Realised accuracy: AUC ${Number(report.realised.auc).toFixed(3)}, ECE ${Number(report.realised.ece).toFixed(3)} on ${report.realised.leads} leads with outcomes`) : h("p", { class: "muted" }, "Realised accuracy once 50 scored leads have outcomes."),
      psi.length ? chart("PSI per field", "bar", psi.map((e) => e[0]), [{ label: "PSI (alert above 0.2)", data: psi.map((e) => e[1]) }]) : null,
      ...(report.alerts || []).map((a) => h("p", { class: "error" }, a)),
    );
  } catch (e) {
    drift.replaceChildren(errorBox(e));
  }
  const ab = document.getElementById("abtest");
  if (!can("models")) return;
  try {
    const report = await api("POST", "/api/v1/ai/scoring/models/test", {});
    const holdout = report.holdout;
    ab.replaceChildren(
      h("p", {}, `Champion ${report.assignment?.champion || "none"}, challenger ${report.assignment?.challenger || "none"} (${Math.round((report.assignment?.challenger_share || 0) * 100)} % of leads)`),
      holdout
        ? h("table", {}, h("thead", {}, h("tr", {}, ...["Arm", "AUC", "95 % interval", "ECE", "Top-decile lift"].map((c) => h("th", {}, c)))), h("tbody", {}, ...["champion", "challenger"].map((arm) => h("tr", {}, h("td", {}, arm), h("td", {}, Number(holdout[arm].auc).toFixed(3)), h("td", {}, (holdout[arm].auc_95ci || []).map((v) => v.toFixed(3)).join(" - ")), h("td", {}, Number(holdout[arm].ece).toFixed(3)), h("td", {}, Number(holdout[arm].top_decile_lift).toFixed(2))))))
        : h("p", { class: "muted" }, report.status || "No test running: start one with POST /api/v1/ai/scoring/models/test {\"challenger\": VERSION}."),
      holdout ? h("p", {}, `AUC difference ${holdout.auc_difference.toFixed(3)} (95 % interval ${(holdout.auc_difference_95ci || []).map((v) => v.toFixed(3)).join(" - ")})`) : null,
      report.live
        ? h("p", {}, "Live conversion since the test began: ", Object.entries(report.live).map(([arm, v]) => `${arm} ${v.conversion_rate === null || v.conversion_rate === undefined ? "n/a" : (100 * v.conversion_rate).toFixed(1) + " %"} (95 % interval ${(v.conversion_95ci || []).map((x) => (100 * x).toFixed(1)).join("-") || "n/a"})`).join("; "))
        : null,
    );
  } catch (e) {
    ab.replaceChildren(errorBox(e));
  }
}

async function usagePage() {
  const box = h("div", {});
  render(h("h1", {}, "Usage and budgets"), box);
  if (!can("usage")) {
    box.replaceChildren(h("p", { class: "muted" }, "Usage and cost are for managers and admins."));
    return;
  }
  try {
    const usage = await api("GET", "/api/v1/ai/usage");
    const policy = await api("GET", "/api/v1/ai/usage/policy");
    box.replaceChildren(usageView(usage), policyEditor(policy));
  } catch (e) {
    box.replaceChildren(errorBox(e));
  }
}

function usageView(usage) {
  const days = usage.by_day || [];
  const byMap = (m) => Object.entries(m || {}).map(([k, v]) => [k, v.cost_usd || 0]);
  const mapChart = (label, m) => {
    const entries = byMap(m);
    return h("div", {}, h("h2", {}, label), entries.length ? chart(label, "bar", entries.map((e) => e[0]), [{ label: "cost (USD)", data: entries.map((e) => e[1]) }]) : h("p", { class: "muted" }, "None."));
  };
  const total = usage.total || {};
  return h(
    "div",
    {},
    h("p", { id: "usage-total", "data-cost": total.cost_usd || 0, "data-calls": total.calls || 0 }, `${usage.from} to ${usage.to}: ${total.calls || 0} calls, ${(total.input_tokens || 0) + (total.output_tokens || 0)} tokens, ${money(total.cost_usd)}`),
    h("div", { class: "grid" },
      h("div", {}, h("h2", {}, "Cost by day"), chart("Cost by day", "line", days.map((d) => d.day), [{ label: "cost (USD)", data: days.map((d) => d.cost_usd || 0) }])),
      h("div", {}, h("h2", {}, "Tokens by day"), chart("Tokens by day", "bar", days.map((d) => d.day), [{ label: "input", data: days.map((d) => d.input_tokens || 0) }, { label: "output", data: days.map((d) => d.output_tokens || 0) }])),
      mapChart("Cost by feature", usage.by_feature),
      mapChart("Cost by model", usage.by_model),
      mapChart("Cost by CRM object", usage.by_object_type),
    ),
    h("h2", {}, "Budget this month"),
    h("pre", {}, JSON.stringify(usage.budget, null, 2)),
  );
}

function policyEditor(policy) {
  const text = h("textarea", { id: "policy", "aria-label": "Budget policy (JSON)", readonly: !can("configure") }, JSON.stringify(policy, null, 2));
  const out = h("span", { role: "status" });
  return h(
    "div",
    {},
    h("h2", {}, "Budget policy"),
    text,
    can("configure")
      ? h("p", {}, h("button", { id: "save-policy", onclick: async () => {
          try {
            await api("PUT", "/api/v1/ai/usage/policy", JSON.parse(text.value));
            out.textContent = "Saved.";
          } catch (e) {
            out.replaceChildren(errorBox(e));
          }
        } }, "Save policy"), " ", out)
      : h("p", { class: "muted" }, "Only admins edit the policy."),
  );
}

async function promptsPage() {
  const box = h("div", {});
  render(h("h1", {}, "Prompts"), box);
  if (!can("usage")) {
    box.replaceChildren(h("p", { class: "muted" }, "Prompts and their reports are for managers and admins."));
    return;
  }
  try {
    const list = await api("GET", "/api/v1/ai/prompts");
    const templates = list.templates || list.prompts || [];
    box.replaceChildren(
      h("table", {}, h("thead", {}, h("tr", {}, ...["Template", "Versions", "Traffic"].map((c) => h("th", {}, c)))), h("tbody", {}, ...templates.map((t) => h("tr", {}, h("td", {}, h("a", { href: `#/prompts/${t.template_id || t.id}` }, t.template_id || t.id)), h("td", {}, (t.versions || []).map((v) => v.version ?? v).join(", ")), h("td", {}, Object.entries(t.traffic_percent || {}).map(([v, p]) => `v${v}: ${p}%`).join(", ")))))),
    );
  } catch (e) {
    box.replaceChildren(errorBox(e));
  }
}

async function promptPage(id) {
  const box = h("div", {});
  render(h("h1", {}, `Prompt ${id}`), box);
  if (!can("usage")) {
    box.replaceChildren(h("p", { class: "muted" }, "Prompts and their reports are for managers and admins."));
    return;
  }
  try {
    const tpl = await api("GET", `/api/v1/ai/prompts/${id}`);
    const overrides = can("configure") ? await api("GET", `/api/v1/ai/prompts/${id}/overrides`) : null;
    const report = await api("GET", `/api/v1/ai/prompts/${id}/report`).catch((e) => ({ error: e.message }));
    const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(0)} %`);
    const versions = h("table", { id: "versions" }, h("thead", {}, h("tr", {}, ...["Version", "Traffic", "Tier", "Max tokens", "Description"].map((c) => h("th", {}, c)))), h("tbody", {}, ...tpl.versions.map((v) => h("tr", {}, h("td", {}, `v${v.version}`), h("td", {}, `${tpl.traffic_percent[String(v.version)] ?? 0} %`), h("td", {}, v.tier), h("td", {}, String(v.max_tokens)), h("td", {}, v.description)))));
    const reportTable = report.versions
      ? h("table", { id: "report" }, h("thead", {}, h("tr", {}, ...["Version", "Calls", "Errors", "Cost", "Avg latency", "Schema valid", "Approved", "Edited"].map((c) => h("th", {}, c)))), h("tbody", {}, ...report.versions.map((v) => h("tr", {}, h("td", {}, `v${v.version}`), h("td", {}, String(v.calls)), h("td", {}, String(v.errors)), h("td", {}, money(v.cost_usd)), h("td", {}, v.avg_latency_ms === null ? "–" : `${v.avg_latency_ms} ms`), h("td", {}, pct(v.schema_valid_rate)), h("td", {}, pct(v.approval_rate)), h("td", {}, pct(v.edit_rate))))))
      : errorBox(new Error(report.error || "no report"));
    box.replaceChildren(
      h("h2", {}, "Versions and traffic"),
      versions,
      h("details", {}, h("summary", {}, "The template as the API returns it"), h("pre", {}, JSON.stringify(tpl, null, 2))),
      h("h2", {}, "Tenant overrides"),
      overrides ? overridesForm(id, overrides) : h("p", { class: "muted" }, "Only admins see and edit overrides."),
      h("h2", {}, `Per-version report since ${when(report.since)}`),
      reportTable,
    );
  } catch (e) {
    box.replaceChildren(errorBox(e));
  }
}

// One field per overridable slot the template declares (text, or a list: one item per line); the
// API validates, and its error is shown beside the field it names.
function overridesForm(id, overrides) {
  const out = h("div", { role: "status" });
  const fields = {};
  const rows = Object.entries(overrides.overridable).map(([name, spec]) => {
    const value = overrides.values[name] ?? "";
    const input = h("textarea", { name, id: `override-${name}`, rows: spec.kind === "list" ? 4 : 2, "aria-describedby": `override-${name}-help` }, Array.isArray(value) ? value.join("\n") : value);
    const limits = spec.kind === "list" ? `a list: one item per line, at most ${spec.max_items} items of ${spec.max_chars} characters` : `at most ${spec.max_chars} characters`;
    const fallback = Array.isArray(spec.default) ? spec.default.join("; ") : spec.default;
    const problem = h("p", { class: "error", role: "alert", id: `override-${name}-error` });
    fields[name] = { input, problem, spec };
    return h("div", { class: "field" }, h("label", { for: `override-${name}` }, name), input, h("p", { class: "muted", id: `override-${name}-help` }, `${spec.description} (${limits}; empty: ${fallback ? `the default, "${fallback}"` : "none"})`), problem);
  });
  const save = async (e) => {
    e.preventDefault();
    const body = {};
    for (const [name, { input, problem, spec }] of Object.entries(fields)) {
      problem.textContent = "";
      input.removeAttribute("aria-invalid");
      const text = input.value.trim();
      if (!text) continue;
      body[name] = spec.kind === "list" ? text.split("\n").map((v) => v.trim()).filter(Boolean) : text;
    }
    try {
      const saved = await api("PUT", `/api/v1/ai/prompts/${id}/overrides`, body);
      out.replaceChildren(`Saved (revision ${saved.revision}).`);
    } catch (err) {
      const target = fields[err.field];
      if (target) {
        target.problem.textContent = err.message;
        target.input.setAttribute("aria-invalid", "true");
        target.input.focus();
        out.replaceChildren();
      } else out.replaceChildren(errorBox(err));
    }
  };
  if (!rows.length) return h("p", { class: "muted" }, "This template has nothing a tenant may override.");
  return h("form", { id: "overrides", class: "card", onsubmit: save }, ...rows, h("p", {}, h("button", { id: "save-overrides", type: "submit" }, "Save overrides")), out);
}

const citation = (c) => h("li", {}, h("strong", {}, `[${c.id}] ${c.title || c.source_type || ""}`), c.date ? ` (${c.date}) ` : " ", h("span", { class: "snippet" }, c.snippet || ""));

async function knowledgePage() {
  const docs = h("div", { id: "documents" });
  const results = h("div", { id: "search-results" });
  const insights = h("div", { id: "insights" });
  const chatOut = h("div", { id: "chat-answer", "aria-live": "polite" });
  async function loadDocs() {
    try {
      const list = await api("GET", "/api/v1/ai/knowledge");
      if (!list.documents.length) return docs.replaceChildren(h("p", { class: "muted" }, "No documents yet."));
      docs.replaceChildren(
        h("table", {}, h("thead", {}, h("tr", {}, ...["Title", "Size", "Chunks", "Added", ""].map((c) => h("th", {}, c)))), h("tbody", {}, ...list.documents.map((d) => h("tr", { "data-doc": d.doc_id }, h("td", {}, d.title), h("td", {}, `${d.chars} chars`), h("td", {}, String(d.chunks)), h("td", {}, when(d.created_at)), h("td", {}, can("configure") ? h("button", { class: "danger", "aria-label": `Delete ${d.title}`, onclick: async () => { await api("DELETE", `/api/v1/ai/knowledge/${d.doc_id}`); loadDocs(); } }, "Delete") : ""))))),
      );
    } catch (e) {
      docs.replaceChildren(errorBox(e));
    }
  }
  const title = h("input", { name: "title", "aria-label": "Title", placeholder: "title" });
  const content = h("textarea", { name: "content", "aria-label": "Content", placeholder: "text of the document (Markdown)" });
  const upload = can("configure")
    ? h("form", { id: "add-document", class: "card", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api("POST", "/api/v1/ai/knowledge", { title: title.value, content: content.value, format: "markdown" });
          title.value = content.value = "";
          loadDocs();
        } catch (err) {
          docs.prepend(errorBox(err));
        }
      } }, h("label", {}, "Title ", title), content, h("button", { type: "submit" }, "Add document"))
    : null;
  const query = h("input", { name: "query", "aria-label": "Search the knowledge base", size: 40, value: "adding seats before renewal" });
  const search = h("form", { id: "search", class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api("POST", "/api/v1/ai/knowledge/search", { query: query.value });
      results.replaceChildren(r.results.length ? h("ol", {}, ...r.results.map((hit) => h("li", { class: "card", "data-doc": hit.id }, h("strong", {}, hit.title || hit.id), h("p", { class: "snippet" }, hit.snippet), h("p", { class: "muted" }, `cite as [${hit.id}] · chunk ${hit.chunk_id} · score ${hit.score.toFixed(3)}`)))) : h("p", { class: "muted" }, "Nothing found."));
    } catch (err) {
      results.replaceChildren(errorBox(err));
    }
  } }, h("label", {}, "Query ", query), h("button", { type: "submit" }, "Search"));
  const customer = h("input", { name: "customer", "aria-label": "Customer id", value: "cust-ada" });
  const showInsights = async (generate) => {
    insights.replaceChildren(h("p", { class: "muted" }, generate ? "Generating ..." : "Loading ..."));
    try {
      const r = generate
        ? await api("POST", "/api/v1/ai/insights/generate", { customer_id: customer.value })
        : await api("GET", `/api/v1/ai/insights/customer/${encodeURIComponent(customer.value)}`);
      insights.replaceChildren(...(r.insights.length ? r.insights.map(insightCard) : [h("p", { class: "muted" }, `No insights for ${customer.value} yet.`)]));
    } catch (err) {
      insights.replaceChildren(errorBox(err));
    }
  };
  const insightsForm = h("form", { id: "show-insights", class: "row", onsubmit: (e) => { e.preventDefault(); showInsights(false); } }, h("label", {}, "Customer ", customer), h("button", { type: "submit" }, "Show insights"), can("generate") ? h("button", { type: "button", id: "generate-insights", class: "secondary", onclick: () => showInsights(true) }, "Generate") : null);
  const question = h("input", { name: "question", "aria-label": "Question", size: 50, value: "Can they add ten more seats before the renewal?" });
  const chatForm = can("generate") ? h("form", { id: "chat", class: "row", onsubmit: async (e) => { e.preventDefault(); await chat(customer.value, question.value, chatOut); } }, h("label", {}, "Ask ", question), h("button", { type: "submit" }, "Chat")) : h("p", { class: "muted" }, "Chat needs a rep role.");
  render(h("h1", {}, "Knowledge and insights"), h("h2", {}, "Documents"), upload, docs, h("h2", {}, "Search"), search, results, h("h2", {}, "A customer's insights"), insightsForm, insights, h("h2", {}, "Chat"), chatForm, chatOut);
  await Promise.all([loadDocs(), showInsights(false)]);
}

function insightCard(i) {
  return h(
    "div",
    { class: "card", "data-insight": i.insight_id },
    h("strong", {}, i.title),
    " ",
    h("span", { class: "muted" }, `${i.type.replaceAll("_", " ")} · confidence ${Number(i.confidence).toFixed(2)} · impact ${i.impact_score}/10 · ${i.grounded ? "grounded" : "not grounded"} · ${when(i.generated_at)}`),
    h("p", {}, i.description),
    i.recommendations?.length ? h("ul", {}, ...i.recommendations.map((r) => h("li", {}, h("strong", {}, `${r.priority}: ${r.action}`), ` ${r.description}`))) : null,
    ...(i.supporting_data || []).map((s) => h("details", {}, h("summary", {}, s.claim), h("ul", { class: "citations" }, ...s.citations.map(citation)))),
  );
}

async function chat(customerId, message, out) {
  const answer = h("p", { id: "chat-text" });
  const cites = h("ul", { class: "citations" });
  const meta = h("p", { class: "muted", id: "chat-grounding" });
  out.replaceChildren(answer, cites, meta);
  const res = await fetch(`${state.config.api}/api/v1/ai/insights/chat`, {
    method: "POST",
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ message, customer_id: customerId }),
  });
  if (!res.ok) {
    out.replaceChildren(errorBox(new ApiError(res.status, await res.json().catch(() => ({})))));
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /event: (.*)/.exec(chunk)?.[1];
      const data = /data: (.*)/.exec(chunk)?.[1];
      if (!data) continue;
      const body = JSON.parse(data);
      if (event === "delta") answer.append(body.text);
      if (event === "citations") {
        cites.replaceChildren(...body.citations.map(citation));
        const g = body.grounding || {};
        meta.textContent = `grounding ${Number(g.score ?? 0).toFixed(2)}: ${g.supported ?? 0} of ${g.sentences ?? 0} sentences supported by the excerpts`;
      }
      if (event === "done") out.dataset.done = "true";
      if (event === "error") out.append(h("p", { class: "error", role: "alert" }, body.error?.message || "the answer failed"));
    }
  }
}

// --- router -------------------------------------------------------------------------------------
async function route() {
  if (state.pageCleanup) state.pageCleanup();
  state.pageCleanup = null;
  state.listeners.clear();
  while (charts.length) charts.pop().destroy();
  if (!state.token) return signInPage();
  const hash = location.hash.replace(/^#\//, "") || "workflows";
  const [page, id] = hash.split("?")[0].split("/");
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${page}`);
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  const pages = {
    workflows: () => (id ? runPage(id) : workflowsPage()),
    approvals: approvalsPage,
    leads: leadsPage,
    usage: usagePage,
    prompts: () => (id ? promptPage(id) : promptsPage()),
    knowledge: knowledgePage,
  };
  await (pages[page] || workflowsPage)();
  document.body.dataset.ready = page;
}

async function boot() {
  state.config = await (await fetch("config.json")).json();
  document.getElementById("simulated").hidden = !state.config.simulated_models;
  const saved = sessionStorage.getItem("token");
  if (saved) {
    try {
      signIn(saved);
    } catch {
      sessionStorage.removeItem("token");
    }
  }
  window.addEventListener("hashchange", route);
  try {
    await oidcFinish();
  } catch (e) {
    signInPage(e.message);
    return;
  }
  await route();
}

boot();
