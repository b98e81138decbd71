// One return: its facts, its timeline with messages, and the actions open to this caller.
import { html, useState, useEffect, useNow } from "./lib.js";
import { t, term } from "./i18n.js";
import { api, problemText, query } from "./api.js";
import { countdown, dateTime, money } from "./format.js";
import { ActionForm } from "./action_forms.js";

// The actions the server's transition table allows from this state, for this type and role.
export function allowedActions(ret, role, transitions) {
  const actions = [];
  for (const row of transitions?.transitions || []) {
    if (row.from === ret.status && row.types.includes(ret.type) && row.roles.includes(role)
        && !actions.includes(row.action)) {
      actions.push(row.action);
    }
  }
  // Extending is allowed once; the return says whether it was used.
  return actions.filter((action) => !(action === "extend" && ret.receive_extended));
}

async function loadTimeline(id) {
  const events = [];
  let cursor;
  do {
    const answer = await api(`/v1/returns/${encodeURIComponent(id)}/events${query({ cursor, limit: 200 })}`);
    if (!answer.ok) return { problem: answer.problem };
    events.push(...answer.data.items);
    cursor = answer.data.next_cursor;
  } while (cursor);
  return { events };
}

function Fact({ label, children }) {
  return html`<div class="fact"><dt>${label}</dt><dd>${children}</dd></div>`;
}

function Facts({ ret, now }) {
  const left = ret.deadline && countdown(ret.deadline.due_at, now);
  const address = ret.return_address;
  return html`<section aria-labelledby="facts-title" class="facts">
    <h2 id="facts-title">${t("ret.facts")}</h2>
    <dl>
      <${Fact} label=${t("ret.status")}><span class=${`status status-${ret.status}`}>${term("status", ret.status)}</span><//>
      <${Fact} label=${t("ret.deadline")}>${ret.deadline
        ? html`${t("deadline.who", { action: term("action", ret.deadline.action), actor: term("role", ret.deadline.actor) })}:
            <span class=${left.overdue ? "overdue" : ""}>${left.text}</span> (${dateTime(ret.deadline.due_at)})`
        : "—"}<//>
      <${Fact} label=${t("ret.order")}>${ret.order_id}<//>
      <${Fact} label=${t("ret.shop")}>${ret.shop_id}<//>
      <${Fact} label=${t("ret.buyer")}>${ret.buyer_id} ${ret.buyer_flagged && html`<span class="badge flagged">${t("flagged")}</span>`}<//>
      <${Fact} label=${t("ret.type")}>${term("type", ret.type)}<//>
      <${Fact} label=${t("ret.reason")}>${term("reason", ret.reason)}<//>
      <${Fact} label=${t("ret.fault")}>${term("fault", ret.fault)}<//>
      <${Fact} label=${t("ret.refund_amount")}>${money(ret.refund_amount, ret.currency)}<//>
      <${Fact} label=${t("ret.shipping_payer")}>${term("payer", ret.return_shipping_paid_by)}<//>
      <${Fact} label=${t("ret.version")}>${ret.version}<//>
      <${Fact} label=${t("ret.created")}>${dateTime(ret.created_at)}<//>
      <${Fact} label=${t("ret.updated")}>${dateTime(ret.updated_at)}<//>
      ${ret.description && html`<${Fact} label=${t("ret.description")}>${ret.description}<//>`}
      ${ret.evidence?.length > 0 && html`<${Fact} label=${t("ret.evidence")}>
        <ul>${ret.evidence.map((url) => html`<li><a href=${url} rel="noopener noreferrer" target="_blank">${url}</a></li>`)}</ul><//>`}
      ${address && html`<${Fact} label=${t("ret.address")}>
        ${term("address.kind", address.kind)} · ${address.name} · ${address.phone} · ${address.address} ${address.postal_code || ""}<//>`}
      ${ret.instructions && html`<${Fact} label=${t("ret.instructions")}>${ret.instructions}<//>`}
      ${ret.inspection && html`<${Fact} label=${t("ret.inspection")}>${term("inspection", ret.inspection)}<//>`}
      ${ret.rejection && html`<${Fact} label=${t("ret.rejection")}>${ret.rejection.reason_code}: ${ret.rejection.note}
        ${ret.rejection.evidence?.length > 0 && html`<ul>${ret.rejection.evidence.map((url) => html`<li>
          <a href=${url} rel="noopener noreferrer" target="_blank">${url}</a></li>`)}</ul>`}<//>`}
      ${ret.keep_goods && html`<${Fact} label=${t("ret.keep_goods")}>${t("filters.yes")}<//>`}
      ${ret.offer && html`<${Fact} label=${t("ret.offer")}>
        ${t("ret.offer_line", {
          number: ret.offer.number, amount: money(ret.offer.amount, ret.currency),
          outcome: term("offer", ret.offer.outcome),
        })}${ret.offer.keep_goods ? ` · ${t("form.keep_goods")}` : ""}${ret.offer.note ? ` · ${ret.offer.note}` : ""}<//>`}
      ${ret.dispositions?.length > 0 && html`<${Fact} label=${t("ret.dispositions")}>
        ${ret.dispositions.map((d) => `${d.line_id} × ${d.quantity}: ${term("disposition", d.disposition)}`).join("; ")}<//>`}
      ${ret.shipment && html`<${Fact} label=${t("ret.shipment")}>
        ${ret.shipment.carrier} ${ret.shipment.tracking_number} ${ret.shipment.status || ""} ${dateTime(ret.shipment.shipped_at)}<//>`}
      ${ret.replacement_shipment && html`<${Fact} label=${t("ret.replacement")}>
        ${ret.replacement_shipment.carrier} ${ret.replacement_shipment.tracking_number}<//>`}
      ${ret.refund && html`<${Fact} label=${t("ret.refund")}>
        ${money(ret.refund.amount, ret.refund.currency)} · ${ret.refund.reference} · ${dateTime(ret.refund.refunded_at)}<//>`}
    </dl>
    <table class="items">
      <caption>${t("ret.items")}</caption>
      <thead><tr>
        <th scope="col">${t("ret.line")}</th><th scope="col" class="num">${t("ret.quantity")}</th>
        <th scope="col">${t("ret.condition")}</th><th scope="col" class="num">${t("ret.unit_price")}</th>
      </tr></thead>
      <tbody>${ret.items.map((item) => html`<tr>
        <td>${item.line_id}</td><td class="num">${item.quantity}</td>
        <td>${term("condition", item.condition)}</td><td class="num">${money(item.unit_price, ret.currency)}</td>
      </tr>`)}</tbody>
    </table>
    ${ret.deductions.length > 0 && html`<h3>${t("ret.deductions")}</h3><ul>
      ${ret.deductions.map((d) => html`<li>${d.kind}: ${money(d.amount, ret.currency)} ${d.note}</li>`)}</ul>`}
  </section>`;
}

function eventTitle(event) {
  if (event.type === "message") return t("event.message");
  if (event.from_status !== event.to_status && event.to_status) {
    const from = event.from_status ? `${term("status", event.from_status)} → ` : "";
    return `${term("action", event.type)}: ${from}${term("status", event.to_status)}`;
  }
  return term("event", event.type);
}

function Timeline({ events }) {
  return html`<ol class="timeline">
    ${events.map((event) => html`<li key=${event.seq} class=${`event event-${event.type}`}>
      <div class="event-head">
        <strong>${eventTitle(event)}</strong>
        <span class="muted">${t("timeline.by", { actor: `${term("role", event.actor.role)} ${event.actor.id}` })}</span>
        <time datetime=${event.at}>${dateTime(event.at)}</time>
      </div>
      ${event.data?.body && html`<p class="message-body">${event.data.body}</p>`}
      ${event.data?.note && html`<p class="note">${event.data.note}</p>`}
      ${event.data?.evidence?.length > 0 && html`<ul>${event.data.evidence.map((url) => html`<li>
        <a href=${url} rel="noopener noreferrer" target="_blank">${url}</a></li>`)}</ul>`}
    </li>`)}
  </ol>`;
}

function MessageForm({ id, onSent }) {
  const [body, setBody] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    const answer = await api(`/v1/returns/${encodeURIComponent(id)}/messages`, { method: "POST", body: { body } });
    setBusy(false);
    if (!answer.ok) return setOutcome({ error: problemText(answer.problem) });
    setBody("");
    setOutcome({ ok: t("message.sent") });
    onSent();
  }
  return html`<form class="message-form" onSubmit=${submit}>
    <label for="message-body">${t("message.label")}</label>
    <textarea id="message-body" rows="3" maxlength="4000" required value=${body}
      onInput=${(e) => setBody(e.currentTarget.value)}></textarea>
    <button type="submit" class="primary" disabled=${busy}>${t("message.send")}</button>
    ${outcome?.error && html`<p class="error" role="alert">${outcome.error}</p>`}
    ${outcome?.ok && html`<p class="notice" role="status">${outcome.ok}</p>`}
  </form>`;
}

export function ReturnPage({ id, session }) {
  const [ret, setRet] = useState(null);
  const [events, setEvents] = useState([]);
  const [error, setError] = useState("");
  const [open, setOpen] = useState(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null);
  const now = useNow();

  async function load() {
    const answer = await api(`/v1/returns/${encodeURIComponent(id)}`);
    if (!answer.ok) return setError(problemText(answer.problem));
    setRet(answer.data);
    setError("");
    await refreshTimeline();
  }
  async function refreshTimeline() {
    const timeline = await loadTimeline(id);
    if (timeline.problem) setError(problemText(timeline.problem));
    else setEvents(timeline.events);
  }
  useEffect(() => { load(); }, [id]);

  async function act(action, body) {
    setBusy(true);
    // If-Match: the version this page shows; a return changed meanwhile answers 412.
    const answer = await api(`/v1/returns/${encodeURIComponent(id)}/${action}`, {
      method: "POST", body, ifMatch: ret.version,
    });
    setBusy(false);
    if (answer.ok) {
      await refreshTimeline();
      setRet(answer.data);
      setOpen(null);
      setOutcome({ ok: t("ret.done", { status: term("status", answer.data.status) }) });
    } else if (answer.status === 412) {
      setOutcome({ stale: t("ret.stale", { seen: ret.version }), problem: problemText(answer.problem) });
    } else {
      setOutcome({ error: problemText(answer.problem) });
    }
  }

  if (error && !ret) {
    return html`<main id="main" tabindex="-1"><p><a href="#/queue">← ${t("ret.back")}</a></p>
      <p class="error" role="alert">${error}</p></main>`;
  }
  if (!ret) return html`<main id="main" tabindex="-1"><p aria-live="polite">${t("loading")}</p></main>`;
  const actions = allowedActions(ret, session.role, session.transitions);

  return html`<main id="main" tabindex="-1" class="return-page">
    <p><a href="#/queue">← ${t("ret.back")}</a></p>
    <h1>${t("ret.title", { id: ret.id })}</h1>
    <section aria-labelledby="actions-title" class="actions">
      <h2 id="actions-title">${t("ret.actions")}</h2>
      ${actions.length === 0 ? html`<p class="muted">${t("ret.no_actions")}</p>`
        : html`<div class="buttons">${actions.map((action) => html`<button type="button"
            aria-expanded=${open === action ? "true" : "false"} class=${open === action ? "active" : ""}
            onClick=${() => { setOpen(open === action ? null : action); setOutcome(null); }}>${term("action", action)}</button>`)}</div>`}
      ${open && html`<${ActionForm} key=${open} action=${open} ret=${ret} busy=${busy}
        onSubmit=${(body) => act(open, body)} onCancel=${() => setOpen(null)} />`}
      ${outcome?.ok && html`<p class="notice" role="status">${outcome.ok}</p>`}
      ${outcome?.error && html`<div class="error" role="alert"><strong>${t("ret.refused")}:</strong>
        <pre>${outcome.error}</pre></div>`}
      ${outcome?.stale && html`<div class="error stale" role="alert"><p>${outcome.stale}</p><pre>${outcome.problem}</pre>
        <button type="button" onClick=${() => { setOutcome(null); setOpen(null); load(); }}>${t("ret.reload")}</button></div>`}
    </section>
    <div class="columns">
      <${Facts} ret=${ret} now=${now} />
      <section aria-labelledby="timeline-title" class="timeline-section">
        <h2 id="timeline-title">${t("timeline.title")}</h2>
        <${Timeline} events=${events} />
        <${MessageForm} id=${ret.id} onSent=${refreshTimeline} />
      </section>
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </main>`;
}
