// The work queue: tabs by state with counts, filters, cursor paging, batch approve/reject.
import { html, useState, useEffect, useRef, useNow } from "./lib.js";
import { t, term } from "./i18n.js";
import { api, problemText, query } from "./api.js";
import { countdown, dateTime, dayStart, money } from "./format.js";
import { AddressFields, RejectReasonField, addressBody, emptyAddress, lines } from "./action_forms.js";

const PAGE_SIZE = 20;
const STATE_ORDER = [
  "requested", "offered", "approved", "shipped", "received", "rejected", "arbitration",
  "refunded", "completed", "closed", "cancelled",
];
const TYPES = ["refund_only", "return_refund", "exchange", "reship"];
const REASONS = [
  "no_reason", "size_mismatch", "quality_defect", "not_as_described", "wrong_item",
  "missing_item", "damaged_in_transit", "not_received",
];
const NO_FILTERS = { type: "", reason: "", flagged: "", from: "", to: "" };
const DAY = 86400 * 1000;

// What the queue showed last, so coming back from a return finds it as it was left.
const remembered = { tab: "todo", filters: NO_FILTERS };

function tabsOf(session) {
  const known = session.transitions.statuses;
  const states = STATE_ORDER.filter((s) => known.includes(s));
  return ["todo", ...states, ...known.filter((s) => !STATE_ORDER.includes(s)), "all"];
}

const tabLabel = (tab) => (tab === "todo" || tab === "all" ? t(`queue.tab.${tab}`) : term("status", tab));

// Counts per state from the statistics of the last 365 days (by_status); "To do" from the
// work queue itself, up to one page of 200. Without statistics, one page per state.
async function loadCounts(shopId, states) {
  const shop = shopId || undefined;
  const to = new Date(Date.now() + DAY);
  const from = new Date(to.getTime() - 365 * DAY);
  const todo = api(`/v1/returns${query({ shop_id: shop, awaiting: "merchant", sort: "due_at", limit: 200 })}`);
  const stats = await api(`/v1/statistics${query({ shop_id: shop, from: from.toISOString(), to: to.toISOString() })}`);
  const counts = {};
  if (stats.ok) {
    // A state no return stands in may be left out of by_status: it counts 0.
    for (const state of states) counts[state] = "0";
    let all = 0;
    for (const [state, count] of Object.entries(stats.data.by_status || {})) {
      counts[state] = String(count);
      all += count;
    }
    counts.all = String(all);
  } else {
    await Promise.all(states.map(async (state) => {
      const answer = await api(`/v1/returns${query({ shop_id: shop, status: state, limit: 200 })}`);
      if (answer.ok) counts[state] = `${answer.data.items.length}${answer.data.next_cursor ? "+" : ""}`;
    }));
    const all = await api(`/v1/returns${query({ shop_id: shop, limit: 200 })}`);
    if (all.ok) counts.all = `${all.data.items.length}${all.data.next_cursor ? "+" : ""}`;
  }
  const queue = await todo;
  if (queue.ok) counts.todo = `${queue.data.items.length}${queue.data.next_cursor ? "+" : ""}`;
  return counts;
}

function Tabs({ tabs, current, counts, onPick }) {
  const refs = useRef({});
  function key(event, index) {
    const step = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const next = tabs[(index + step + tabs.length) % tabs.length];
    onPick(next);
    refs.current[next]?.focus();
  }
  return html`<div role="tablist" aria-label=${t("queue.tabs")} class="tabs">
    ${tabs.map((tab, index) => html`<button type="button" role="tab" id=${`tab-${tab}`}
        aria-selected=${tab === current ? "true" : "false"} aria-controls="queue-panel"
        tabindex=${tab === current ? 0 : -1} ref=${(el) => { refs.current[tab] = el; }}
        onClick=${() => onPick(tab)} onKeyDown=${(e) => key(e, index)}>
        ${tabLabel(tab)} <span class="count" data-state=${tab}>${counts[tab] ?? "…"}</span>
      </button>`)}
  </div>`;
}

function Filters({ applied, onApply }) {
  const [draft, setDraft] = useState(applied);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.value });
  return html`<form class="filters" aria-label=${t("filters.title")}
      onSubmit=${(e) => { e.preventDefault(); onApply(draft); }}>
    <label for="f-type">${t("filters.type")}</label>
    <select id="f-type" value=${draft.type} onChange=${set("type")}>
      <option value="">${t("filters.any")}</option>
      ${TYPES.map((v) => html`<option value=${v}>${term("type", v)}</option>`)}
    </select>
    <label for="f-reason">${t("filters.reason")}</label>
    <select id="f-reason" value=${draft.reason} onChange=${set("reason")}>
      <option value="">${t("filters.any")}</option>
      ${REASONS.map((v) => html`<option value=${v}>${term("reason", v)}</option>`)}
    </select>
    <label for="f-flagged">${t("filters.flagged")}</label>
    <select id="f-flagged" value=${draft.flagged} onChange=${set("flagged")}>
      <option value="">${t("filters.any")}</option>
      <option value="true">${t("filters.yes")}</option>
      <option value="false">${t("filters.no")}</option>
    </select>
    <label for="f-from">${t("filters.from")}</label>
    <input id="f-from" type="date" value=${draft.from} onInput=${set("from")} />
    <label for="f-to">${t("filters.to")}</label>
    <input id="f-to" type="date" value=${draft.to} onInput=${set("to")} />
    <button type="submit" class="primary">${t("filters.apply")}</button>
    <button type="button" onClick=${() => { setDraft(NO_FILTERS); onApply(NO_FILTERS); }}>${t("filters.clear")}</button>
  </form>`;
}

function BatchForm({ action, ids, onDone, onCancel }) {
  const [address, setAddress] = useState(emptyAddress());
  const [instructions, setInstructions] = useState("");
  const [reasonCode, setReasonCode] = useState("");
  const [note, setNote] = useState("");
  const [evidence, setEvidence] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  async function submit(event) {
    event.preventDefault();
    let body = {};
    if (action === "approve") {
      const returnAddress = addressBody(address);
      if (returnAddress) body.return_address = returnAddress;
      if (instructions.trim()) body.instructions = instructions.trim();
    } else {
      body = { reason_code: reasonCode.trim(), note: note.trim() };
      if (lines(evidence).length) body.evidence = lines(evidence);
    }
    setBusy(true);
    const answer = await api("/v1/returns/batch", { method: "POST", body: { action, ids, body } });
    setBusy(false);
    if (!answer.ok) return setError(problemText(answer.problem));
    onDone(answer.data.items);
  }

  return html`<form class="batch-form" onSubmit=${submit} aria-label=${t(`batch.${action}`)}>
    ${action === "approve"
      ? html`<${AddressFields} prefix="batch" value=${address} onChange=${setAddress} />
        <label for="batch-instructions">${t("form.instructions")}</label>
        <textarea id="batch-instructions" rows="2" value=${instructions} onInput=${(e) => setInstructions(e.currentTarget.value)}></textarea>`
      : html`<${RejectReasonField} id="batch-reason" value=${reasonCode} onInput=${(e) => setReasonCode(e.currentTarget.value)} />
        <label for="batch-note">${t("form.note")}</label>
        <textarea id="batch-note" rows="2" required value=${note} onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
        <label for="batch-evidence">${t("form.evidence")}</label>
        <textarea id="batch-evidence" rows="2" value=${evidence} onInput=${(e) => setEvidence(e.currentTarget.value)}></textarea>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="buttons">
      <button type="submit" class="primary" disabled=${busy}>
        ${t("form.submit", { action: `${term("action", action)} × ${ids.length}` })}</button>
      <button type="button" onClick=${onCancel}>${t("form.cancel")}</button>
    </div>
  </form>`;
}

function BatchResults({ results }) {
  const ok = results.filter((r) => r.status === 200).length;
  return html`<section class="batch-results" role="status" aria-labelledby="batch-results-title">
    <h2 id="batch-results-title">${t("batch.results")}: ${t("batch.summary", { ok, n: results.length })}</h2>
    <ul>
      ${results.map((r) => html`<li class=${r.status === 200 ? "ok" : "refused"} data-id=${r.id}>
        <a href=${`#/returns/${encodeURIComponent(r.id)}`}>${r.id}</a>
        <span class="code">${r.status}</span>
        ${r.status === 200
          ? html`<span>${t("batch.ok", { status: term("status", r.return.status) })}</span>`
          : html`<span class="problem">${problemText(r.error)}</span>`}
      </li>`)}
    </ul>
  </section>`;
}

function Deadline({ deadline, now }) {
  if (!deadline) return html`<span class="muted">—</span>`;
  const left = countdown(deadline.due_at, now);
  return html`<span class=${left.overdue ? "deadline overdue" : "deadline"} title=${dateTime(deadline.due_at)}>
    <span class="who">${t("deadline.who", { action: term("action", deadline.action), actor: term("role", deadline.actor) })}</span>
    <span class="left">${left.text}</span>
  </span>`;
}

export function Queue({ session }) {
  const tabs = tabsOf(session);
  const [tab, setTab] = useState(tabs.includes(remembered.tab) ? remembered.tab : "todo");
  const [filters, setFilters] = useState(remembered.filters);
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState("");
  const [counts, setCounts] = useState({});
  const [selected, setSelected] = useState([]);
  const [batch, setBatch] = useState(null);
  const [results, setResults] = useState(null);
  const [version, setVersion] = useState(0);
  const now = useNow();

  remembered.tab = tab;
  remembered.filters = filters;

  useEffect(() => {
    loadCounts(session.shopId, tabs.filter((tab) => tab !== "todo" && tab !== "all")).then(setCounts);
  }, [session.shopId, version]);

  useEffect(() => {
    let live = true;
    const params = {
      shop_id: session.shopId || undefined,
      type: filters.type,
      reason: filters.reason,
      buyer_flagged: filters.flagged,
      created_from: dayStart(filters.from),
      created_to: dayStart(filters.to, 1),
      limit: PAGE_SIZE,
      cursor: cursors[cursors.length - 1] || undefined,
    };
    if (tab === "todo") Object.assign(params, { awaiting: "merchant", sort: "due_at" });
    else if (tab !== "all") params.status = tab;
    setPage(null);
    api(`/v1/returns${query(params)}`).then((answer) => {
      if (!live) return;
      if (answer.ok) { setPage(answer.data); setError(""); }
      else { setPage({ items: [], next_cursor: null }); setError(problemText(answer.problem)); }
    });
    return () => { live = false; };
  }, [tab, filters, cursors, session.shopId, version]);

  function pick(next) {
    setTab(next);
    setCursors([null]);
    setSelected([]);
    setBatch(null);
  }
  function apply(next) {
    setFilters(next);
    setCursors([null]);
    setSelected([]);
  }
  const items = page?.items || [];
  const allChosen = items.length > 0 && items.every((r) => selected.includes(r.id));
  const toggle = (id) => setSelected(selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id]);

  return html`<main id="main" tabindex="-1" class="queue">
    <h1>${t("queue.title")}</h1>
    <${Tabs} tabs=${tabs} current=${tab} counts=${counts} onPick=${pick} />
    <p class="hint">${t("queue.counts_note")}</p>
    <div id="queue-panel" role="tabpanel" aria-labelledby=${`tab-${tab}`}>
      <${Filters} applied=${filters} onApply=${apply} />
      ${selected.length > 0 && html`<div class="batch-bar" role="group" aria-label=${t("batch.bar")}>
        <span>${t("batch.selected", { n: selected.length })}</span>
        <button type="button" onClick=${() => setBatch("approve")}>${t("batch.approve")}</button>
        <button type="button" onClick=${() => setBatch("reject")}>${t("batch.reject")}</button>
        <button type="button" onClick=${() => { setSelected([]); setBatch(null); }}>${t("batch.clear")}</button>
      </div>`}
      ${batch && selected.length > 0 && html`<${BatchForm} key=${batch} action=${batch} ids=${selected}
        onCancel=${() => setBatch(null)}
        onDone=${(items) => { setResults(items); setBatch(null); setSelected([]); setVersion(version + 1); }} />`}
      ${results && html`<${BatchResults} results=${results} />`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <table class="returns" aria-busy=${page ? "false" : "true"}>
        <caption class="sr-only">${t("queue.table", { tab: tabLabel(tab) })}</caption>
        <thead><tr>
          <th scope="col"><input type="checkbox" aria-label=${t("col.select_all")} checked=${allChosen}
            onChange=${() => setSelected(allChosen ? [] : items.map((r) => r.id))} /></th>
          <th scope="col">${t("col.id")}</th>
          <th scope="col">${t("col.created")}</th>
          <th scope="col">${t("col.type")}</th>
          <th scope="col">${t("col.reason")}</th>
          <th scope="col" class="num">${t("col.amount")}</th>
          <th scope="col">${t("col.buyer")}</th>
          <th scope="col">${t("col.status")}</th>
          <th scope="col">${t("col.deadline")}</th>
        </tr></thead>
        <tbody>
          ${items.map((r) => html`<tr key=${r.id} data-id=${r.id}>
            <td><input type="checkbox" aria-label=${t("col.select", { id: r.id })}
              checked=${selected.includes(r.id)} onChange=${() => toggle(r.id)} /></td>
            <td><a href=${`#/returns/${encodeURIComponent(r.id)}`}>${r.id}</a></td>
            <td>${dateTime(r.created_at)}</td>
            <td>${term("type", r.type)}</td>
            <td>${term("reason", r.reason)}</td>
            <td class="num">${money(r.refund_amount, r.currency)}</td>
            <td>${r.buyer_id} ${r.buyer_flagged && html`<span class="badge flagged">${t("flagged")}</span>`}</td>
            <td><span class=${`status status-${r.status}`}>${term("status", r.status)}</span></td>
            <td><${Deadline} deadline=${r.deadline} now=${now} /></td>
          </tr>`)}
        </tbody>
      </table>
      ${!page ? html`<p aria-live="polite">${t("loading")}</p>`
        : items.length === 0 ? html`<p class="muted">${t("queue.empty")}</p>` : null}
      <nav class="pager" aria-label=${t("page.n", { n: cursors.length })}>
        <button type="button" disabled=${cursors.length === 1}
          onClick=${() => { setCursors(cursors.slice(0, -1)); setSelected([]); }}>${t("page.prev")}</button>
        <span>${t("page.n", { n: cursors.length })}</span>
        <button type="button" disabled=${!page?.next_cursor}
          onClick=${() => { setCursors([...cursors, page.next_cursor]); setSelected([]); }}>${t("page.next")}</button>
      </nav>
    </div>
  </main>`;
}
