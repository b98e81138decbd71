// The body of each action, asked for in a labelled form; the server judges what is sent.
import { html, useState, useEffect } from "./lib.js";
import { t, term } from "./i18n.js";
import { api } from "./api.js";
import { parseMoney } from "./format.js";

const EMPTY_ADDRESS = { kind: "warehouse", name: "", phone: "", address: "", postal_code: "" };
export const emptyAddress = () => ({ ...EMPTY_ADDRESS });

// The address typed in, or null when it was left empty (the shop's default then applies).
export function addressBody(value) {
  const { kind, name, phone, address, postal_code } = value;
  if (!name.trim() && !phone.trim() && !address.trim()) return null;
  const body = { kind, name: name.trim(), phone: phone.trim(), address: address.trim() };
  if (postal_code.trim()) body.postal_code = postal_code.trim();
  return body;
}

export function AddressFields({ value, onChange, prefix }) {
  const field = (name) => (e) => onChange({ ...value, [name]: e.currentTarget.value });
  const id = (name) => `${prefix}-address-${name}`;
  return html`<fieldset class="address">
    <legend>${t("address.legend")}</legend>
    <p class="hint">${t("address.hint")}</p>
    <label for=${id("kind")}>${t("address.kind")}</label>
    <select id=${id("kind")} value=${value.kind} onChange=${field("kind")}>
      ${["shop", "warehouse", "supplier"].map((k) => html`<option value=${k}>${t(`address.kind.${k}`)}</option>`)}
    </select>
    <label for=${id("name")}>${t("address.name")}</label>
    <input id=${id("name")} value=${value.name} onInput=${field("name")} autocomplete="name" />
    <label for=${id("phone")}>${t("address.phone")}</label>
    <input id=${id("phone")} value=${value.phone} onInput=${field("phone")} autocomplete="tel" />
    <label for=${id("address")}>${t("address.address")}</label>
    <input id=${id("address")} value=${value.address} onInput=${field("address")} autocomplete="street-address" />
    <label for=${id("postal_code")}>${t("address.postal_code")}</label>
    <input id=${id("postal_code")} value=${value.postal_code} onInput=${field("postal_code")} autocomplete="postal-code" />
  </fieldset>`;
}

let rejectReasons = null;
// The standard rejection codes, when this server lists them; free text works either way.
export function RejectReasonField({ id, value, onInput }) {
  const [reasons, setReasons] = useState(rejectReasons || []);
  useEffect(() => {
    if (rejectReasons) return;
    api("/v1/reject-reasons").then((answer) => {
      rejectReasons = answer.ok ? answer.data.items || answer.data : [];
      setReasons(rejectReasons);
    });
  }, []);
  const chosen = reasons.find((r) => r.code === value.trim());
  return html`<label for=${id}>${t("form.reason_code")}</label>
    <input id=${id} list=${`${id}-codes`} value=${value} onInput=${onInput} required maxlength="64"
      aria-describedby=${`${id}-about`} />
    <datalist id=${`${id}-codes`}>
      ${reasons.map((r) => html`<option value=${r.code}>${r.title}</option>`)}
    </datalist>
    <p id=${`${id}-about`} class="hint">${chosen
      ? `${chosen.title}${chosen.needs_evidence ? ` · ${t("form.needs_evidence")}` : ""}`
      : ""}</p>`;
}

export const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

// One action's fields. onSubmit(body) is called with the body the API takes.
export function ActionForm({ action, ret, busy, onSubmit, onCancel }) {
  const [f, setF] = useState({
    address: emptyAddress(), instructions: "", keep_goods: action === "offer",
    reason_code: "", note: "", evidence: "", inspection: "passed", deductions: [],
    dispositions: {}, amount: "", carrier: "", tracking_number: "", decision: "buyer",
  });
  const [error, setError] = useState("");
  const set = (name, read = (e) => e.currentTarget.value) => (e) => setF({ ...f, [name]: read(e) });
  const id = (name) => `${action}-${name}`;
  const currency = ret.currency;

  function amountOf(text, required) {
    if (!text.trim()) return required ? null : undefined;
    return parseMoney(text, currency);
  }

  function body() {
    const evidence = lines(f.evidence);
    const withEvidence = (b) => (evidence.length ? { ...b, evidence } : b);
    const note = f.note.trim();
    switch (action) {
      case "approve": {
        const b = {};
        const address = addressBody(f.address);
        if (address) b.return_address = address;
        if (f.instructions.trim()) b.instructions = f.instructions.trim();
        if (f.keep_goods) b.keep_goods = true;
        return b;
      }
      case "reject":
        return withEvidence({ reason_code: f.reason_code.trim(), note });
      case "receive": {
        const b = { inspection: f.inspection };
        const deductions = [];
        for (const d of f.deductions) {
          const amount = amountOf(d.amount, true);
          if (amount === null) return null;
          deductions.push({ kind: d.kind.trim(), amount, note: d.note.trim() });
        }
        if (deductions.length) b.deductions = deductions;
        const items = Object.entries(f.dispositions)
          .filter(([, disposition]) => disposition)
          .map(([line_id, disposition]) => ({
            line_id, disposition,
            quantity: ret.items.find((item) => item.line_id === line_id).quantity,
          }));
        if (items.length) b.items = items;
        if (note) b.note = note;
        return b;
      }
      case "refund": {
        const amount = amountOf(f.amount, false);
        if (amount === null) return null;
        return amount === undefined ? {} : { amount };
      }
      case "offer": {
        const amount = amountOf(f.amount, true);
        if (amount === null) return null;
        const b = { amount, keep_goods: f.keep_goods };
        if (note) b.note = note;
        const address = f.keep_goods ? null : addressBody(f.address);
        if (address) b.return_address = address;
        return b;
      }
      case "send_replacement":
        return { carrier: f.carrier.trim(), tracking_number: f.tracking_number.trim() };
      case "arbitrate": {
        const amount = amountOf(f.amount, false);
        if (amount === null) return null;
        const b = withEvidence({ decision: f.decision, note });
        if (amount !== undefined) b.amount = amount;
        return b;
      }
      default:
        return note ? { note } : {};
    }
  }

  function submit(event) {
    event.preventDefault();
    const b = body();
    if (b === null) return setError(t("form.bad_amount"));
    setError("");
    onSubmit(b);
  }

  const note = (required = false) => html`<label for=${id("note")}>${t("form.note")}</label>
    <textarea id=${id("note")} rows="2" maxlength="2000" required=${required} value=${f.note} onInput=${set("note")}></textarea>`;
  const evidence = html`<label for=${id("evidence")}>${t("form.evidence")}</label>
    <textarea id=${id("evidence")} rows="2" value=${f.evidence} onInput=${set("evidence")}></textarea>`;
  const amount = (label, required) => html`<label for=${id("amount")}>${t(label, { currency })}</label>
    <input id=${id("amount")} inputmode="decimal" required=${required} value=${f.amount} onInput=${set("amount")} />`;

  let fields;
  switch (action) {
    case "approve":
      fields = html`${ret.type !== "refund_only" && ret.type !== "reship"
          ? html`<${AddressFields} prefix=${id("a")} value=${f.address} onChange=${(address) => setF({ ...f, address })} />`
          : null}
        <label for=${id("instructions")}>${t("form.instructions")}</label>
        <textarea id=${id("instructions")} rows="2" maxlength="2000" value=${f.instructions} onInput=${set("instructions")}></textarea>
        ${ret.type === "return_refund" && html`<label class="check"><input type="checkbox" checked=${f.keep_goods}
          onChange=${set("keep_goods", (e) => e.currentTarget.checked)} /> ${t("form.keep_goods")}</label>`}`;
      break;
    case "reject":
      fields = html`<${RejectReasonField} id=${id("reason")} value=${f.reason_code} onInput=${set("reason_code")} />
        ${note(true)} ${evidence}`;
      break;
    case "receive":
      fields = html`<fieldset><legend>${t("form.inspection")}</legend>
          ${["passed", "failed"].map((v) => html`<label class="check"><input type="radio" name=${id("inspection")} value=${v}
            checked=${f.inspection === v} onChange=${set("inspection")} /> ${t(`inspection.${v}`)}</label>`)}
        </fieldset>
        <fieldset><legend>${t("form.dispositions")}</legend>
          ${ret.items.map((item) => html`<label for=${id(`disp-${item.line_id}`)}>${t("disposition.line", { line: item.line_id, quantity: item.quantity })}</label>
            <select id=${id(`disp-${item.line_id}`)} value=${f.dispositions[item.line_id] || ""}
              onChange=${(e) => setF({ ...f, dispositions: { ...f.dispositions, [item.line_id]: e.currentTarget.value } })}>
              ${["", "restock", "refurbish", "scrap", "missing"].map((d) => html`<option value=${d}>${t(`disposition.${d || "unset"}`)}</option>`)}
            </select>`)}
        </fieldset>
        <fieldset><legend>${t("form.deductions")}</legend>
          ${f.deductions.map((d, i) => {
            const change = (name) => (e) => {
              const deductions = f.deductions.slice();
              deductions[i] = { ...d, [name]: e.currentTarget.value };
              setF({ ...f, deductions });
            };
            const n = i + 1;
            return html`<div class="deduction">
              <label for=${id(`ded-kind-${n}`)}>${t("deduction.kind", { n })}</label>
              <input id=${id(`ded-kind-${n}`)} required maxlength="64" value=${d.kind} onInput=${change("kind")} />
              <label for=${id(`ded-amount-${n}`)}>${t("deduction.amount", { n, currency })}</label>
              <input id=${id(`ded-amount-${n}`)} required inputmode="decimal" value=${d.amount} onInput=${change("amount")} />
              <label for=${id(`ded-note-${n}`)}>${t("deduction.note", { n })}</label>
              <input id=${id(`ded-note-${n}`)} maxlength="2000" value=${d.note} onInput=${change("note")} />
              <button type="button" onClick=${() => setF({ ...f, deductions: f.deductions.filter((_, j) => j !== i) })}>
                ${t("deduction.remove", { n })}</button>
            </div>`;
          })}
          <button type="button" onClick=${() => setF({ ...f, deductions: [...f.deductions, { kind: "", amount: "", note: "" }] })}>
            ${t("deduction.add")}</button>
        </fieldset>
        ${note()}`;
      break;
    case "refund":
      fields = amount("form.amount", false);
      break;
    case "offer":
      fields = html`${amount("form.offer_amount", true)}
        <label class="check"><input type="checkbox" checked=${f.keep_goods}
          onChange=${set("keep_goods", (e) => e.currentTarget.checked)} /> ${t("form.keep_goods")}</label>
        ${!f.keep_goods && html`<${AddressFields} prefix=${id("a")} value=${f.address} onChange=${(address) => setF({ ...f, address })} />`}
        ${note()}`;
      break;
    case "send_replacement":
      fields = html`<label for=${id("carrier")}>${t("form.carrier")}</label>
        <input id=${id("carrier")} required maxlength="64" value=${f.carrier} onInput=${set("carrier")} />
        <label for=${id("tracking")}>${t("form.tracking")}</label>
        <input id=${id("tracking")} required maxlength="128" value=${f.tracking_number} onInput=${set("tracking_number")} />`;
      break;
    case "arbitrate":
      fields = html`<fieldset><legend>${t("form.decision")}</legend>
          ${["buyer", "merchant"].map((v) => html`<label class="check"><input type="radio" name=${id("decision")} value=${v}
            checked=${f.decision === v} onChange=${set("decision")} /> ${t(`decision.${v}`)}</label>`)}
        </fieldset>
        ${amount("form.amount", false)} ${note(true)} ${evidence}`;
      break;
    default:
      fields = note();
  }

  return html`<form class="action-form" onSubmit=${submit} aria-label=${term("action", action)}>
    ${fields}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="buttons">
      <button type="submit" class="primary" disabled=${busy}>${t("form.submit", { action: term("action", action) })}</button>
      <button type="button" onClick=${onCancel}>${t("form.cancel")}</button>
    </div>
  </form>`;
}
