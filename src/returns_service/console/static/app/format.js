// Money, times and countdowns in the reader's language.
import { locale, t } from "./i18n.js";

function minorDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "";
  const digits = minorDigits(currency);
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(amount / 10 ** digits);
  } catch {
    return `${amount} ${currency}`;
  }
}

// "12.34" in a currency with 2 minor digits is 1234; null when it is not such an amount.
export function parseMoney(text, currency) {
  const digits = minorDigits(currency);
  const match = /^\s*(\d{1,12})(?:[.,](\d*))?\s*$/.exec(text);
  if (!match || (match[2] || "").length > digits) return null;
  const fraction = (match[2] || "").padEnd(digits, "0");
  return Number(match[1]) * 10 ** digits + Number(fraction || "0");
}

export function majorUnits(amount, currency) {
  const digits = minorDigits(currency);
  return (amount / 10 ** digits).toFixed(digits);
}

export function dateTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

export function percent(share, digits = 1) {
  if (share === null || share === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: digits }).format(share);
}

export function number(value) {
  return value === null || value === undefined ? "—" : new Intl.NumberFormat(locale()).format(value);
}

// A span of time as its two largest units: "2d 3h", "5h 12m", "4m 9s" (或 "2天3小时").
export function span(seconds) {
  const units = [
    [86400, "d", "天"],
    [3600, "h", "小时"],
    [60, "m", "分钟"],
    [1, "s", "秒"],
  ];
  const zh = locale().startsWith("zh");
  let rest = Math.max(0, Math.floor(seconds));
  const parts = [];
  for (const [size, en, cn] of units) {
    if (parts.length === 2) break;
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || parts.length > 0 || size === 1) parts.push(`${count}${zh ? cn : en}`);
  }
  return parts.join(zh ? "" : " ");
}

export function countdown(dueIso, nowMs) {
  const seconds = (new Date(dueIso).getTime() - nowMs) / 1000;
  return seconds >= 0
    ? { overdue: false, text: t("deadline.left", { d: span(seconds) }) }
    : { overdue: true, text: t("deadline.overdue", { d: span(-seconds) }) };
}

// A date input's value (local calendar day) as the instant its day starts, RFC 3339.
export function dayStart(value, plusDays = 0) {
  if (!value) return undefined;
  const [year, month, day] = value.split("-").map(Number);
  return new Date(year, month - 1, day + plusDays).toISOString();
}

export function dateInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
