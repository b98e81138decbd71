// The statistics as charts (Chart.js): return rate by day, reasons as a Pareto chart,
// processing time and first response, return rate by category and region; CSV download.
import { html, useState, useEffect, useRef, useMemo } from "./lib.js";
import { t, term, language } from "./i18n.js";
import { api, problemText, query } from "./api.js";
import { dateInputValue, dayStart, money, number, percent, span } from "./format.js";

const PRESETS = [7, 30, 90, 365];
const GROUPS = ["day", "category", "region", "sku", "reason"];
const DAY = 86400 * 1000;
const COLORS = { bar: "#2f6fb3", line: "#d9480f", second: "#2b8a3e", third: "#845ef7" };

const Chart = () => window.Chart;
if (Chart()) {
  // Drawn at once: a chart is read, not watched; and screenshots see it whole.
  Chart().defaults.animation = false;
  Chart().defaults.maintainAspectRatio = false;
  Chart().defaults.font.family = "system-ui, 'Noto Sans CJK SC', sans-serif";
}

// The period [from, to) of a preset: the last n days up to the start of tomorrow.
function presetWindow(days) {
  const today = new Date();
  const to = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  return { from: new Date(to.getTime() - days * DAY).toISOString(), to: to.toISOString() };
}

function ChartCanvas({ id, title, config }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = new (Chart())(canvas.current, config);
    return () => chart.destroy();
  }, [config]);
  return html`<figure class="chart" aria-labelledby=${`${id}-title`}>
    <figcaption id=${`${id}-title`}>${title}</figcaption>
    <div class="chart-box"><canvas id=${id} ref=${canvas} role="img" aria-label=${title}></canvas></div>
  </figure>`;
}

const percentAxis = (max) => ({ beginAtZero: true, max, ticks: { callback: (v) => `${v}%` } });
const asPercent = (share) => (share === null || share === undefined ? null : Math.round(share * 10000) / 100);

function rateByDay(days) {
  return {
    type: "bar",
    data: {
      labels: days.map((g) => g.key),
      datasets: [
        {
          type: "line", label: t("chart.rate"), data: days.map((g) => asPercent(g.return_rate)),
          borderColor: COLORS.line, backgroundColor: COLORS.line, spanGaps: true, tension: 0.2,
          yAxisID: "y", order: 1,
        },
        {
          type: "bar", label: t("chart.count"), data: days.map((g) => g.returns ?? null),
          backgroundColor: "#a5c3e6", yAxisID: "count", order: 2,
        },
      ],
    },
    options: {
      scales: {
        y: percentAxis(),
        count: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
      },
    },
  };
}

function pareto(reasons) {
  let cumulative = 0;
  const shares = reasons.map((r) => (cumulative += r.share));
  return {
    type: "bar",
    data: {
      labels: reasons.map((r) => term("reason", r.reason)),
      datasets: [
        { type: "bar", label: t("chart.count"), data: reasons.map((r) => r.count), backgroundColor: COLORS.bar, yAxisID: "y", order: 2 },
        {
          type: "line", label: t("chart.cumulative"), data: shares.map(asPercent), borderColor: COLORS.line,
          backgroundColor: COLORS.line, yAxisID: "share", order: 1,
        },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 } },
        share: { position: "right", ...percentAxis(100), grid: { drawOnChartArea: false } },
      },
    },
  };
}

function times(stats) {
  const hours = (s) => (s === null || s === undefined ? null : Math.round((s / 3600) * 100) / 100);
  const { processing_time: p, first_response: f } = stats;
  return {
    type: "bar",
    data: {
      labels: [t("chart.median"), t("chart.p90")],
      datasets: [
        { label: `${t("chart.processing")} (n=${p.count})`, data: [hours(p.median_seconds), hours(p.p90_seconds)], backgroundColor: COLORS.bar },
        { label: `${t("chart.first_response")} (n=${f.count})`, data: [hours(f.median_seconds), hours(f.p90_seconds)], backgroundColor: COLORS.second },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  };
}

function rateByGroup(groups, color) {
  const top = groups
    .filter((g) => g.return_rate !== null && g.return_rate !== undefined)
    .sort((a, b) => b.return_rate - a.return_rate || a.key.localeCompare(b.key))
    .slice(0, 20);
  return {
    type: "bar",
    data: {
      labels: top.map((g) => g.key),
      datasets: [{ label: t("chart.rate"), data: top.map((g) => asPercent(g.return_rate)), backgroundColor: color }],
    },
    options: { indexAxis: "y", scales: { x: percentAxis() } },
  };
}

function Kpi({ label, value }) {
  return html`<div class="kpi"><dt>${label}</dt><dd>${value}</dd></div>`;
}

function Kpis({ stats }) {
  const refunds = (stats.refunds || []).map((r) => money(r.amount, r.currency)).join(" + ") || "—";
  const seconds = (s) => (s === null || s === undefined ? "—" : span(s));
  return html`<dl class="kpis">
    <${Kpi} label=${t("kpi.orders")} value=${number(stats.orders)} />
    <${Kpi} label=${t("kpi.return_rate")} value=${percent(stats.return_rate)} />
    <${Kpi} label=${t("kpi.returns")} value=${number(stats.returns)} />
    <${Kpi} label=${t("kpi.units")} value=${`${number(stats.units_returned)} / ${number(stats.units_sold)}`} />
    <${Kpi} label=${t("kpi.disputes")} value=${`${number(stats.disputes)} (${percent(stats.dispute_rate)})`} />
    <${Kpi} label=${t("kpi.refunds")} value=${refunds} />
    <${Kpi} label=${t("kpi.processing")} value=${seconds(stats.processing_time?.median_seconds)} />
    <${Kpi} label=${t("kpi.first_response")} value=${seconds(stats.first_response?.median_seconds)} />
    <${Kpi} label=${t("kpi.within_2h")} value=${percent(stats.first_response?.within_2h_share)} />
    <${Kpi} label=${t("kpi.automatic")} value=${number(stats.automatic_actions)} />
    <${Kpi} label=${t("kpi.repurchase")} value=${stats.repurchase_impact === null || stats.repurchase_impact === undefined
      ? "—" : stats.repurchase_impact.toFixed(2)} />
  </dl>`;
}

function WindowPicker({ onPick }) {
  const [preset, setPreset] = useState("30");
  const week = presetWindow(30);
  const [from, setFrom] = useState(dateInputValue(new Date(week.from)));
  const [to, setTo] = useState(dateInputValue(new Date(Date.now())));
  function submit(event) {
    event.preventDefault();
    onPick(preset === "custom" ? { from: dayStart(from), to: dayStart(to, 1) } : presetWindow(Number(preset)));
  }
  return html`<form class="window" onSubmit=${submit} aria-label=${t("dash.window")}>
    <label for="period-preset">${t("dash.window")}</label>
    <select id="period-preset" value=${preset} onChange=${(e) => setPreset(e.currentTarget.value)}>
      ${PRESETS.map((n) => html`<option value=${String(n)}>${t("dash.days", { n })}</option>`)}
      <option value="custom">${t("dash.custom")}</option>
    </select>
    ${preset === "custom" && html`
      <label for="period-from">${t("dash.from")}</label>
      <input id="period-from" type="date" required value=${from} onInput=${(e) => setFrom(e.currentTarget.value)} />
      <label for="period-to">${t("dash.to")}</label>
      <input id="period-to" type="date" required value=${to} onInput=${(e) => setTo(e.currentTarget.value)} />`}
    <button type="submit" class="primary">${t("dash.apply")}</button>
  </form>`;
}

function CsvDownload({ shopId, period }) {
  const [group, setGroup] = useState("day");
  const [error, setError] = useState("");
  async function download() {
    const answer = await api(`/v1/statistics${query({ shop_id: shopId || undefined, ...period, group_by: group })}`, { accept: "text/csv" });
    if (!answer.ok) return setError(problemText(answer.problem));
    setError("");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(answer.blob);
    link.download = `statistics-${shopId || "all"}-${period.from.slice(0, 10)}-${group}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
  return html`<div class="csv">
    <label for="csv-group">${t("dash.csv_group")}</label>
    <select id="csv-group" value=${group} onChange=${(e) => setGroup(e.currentTarget.value)}>
      ${GROUPS.map((g) => html`<option value=${g}>${t(`group.${g}`)}</option>`)}
    </select>
    <button type="button" onClick=${download}>${t("dash.csv")}</button>
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </div>`;
}

export function Dashboard({ session }) {
  const [period, setPeriod] = useState(presetWindow(30));
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const lang = language();

  useEffect(() => {
    let live = true;
    setData(null);
    const ask = (group_by) => api(`/v1/statistics${query({ shop_id: session.shopId || undefined, ...period, group_by })}`);
    Promise.all(["day", "category", "region"].map(ask)).then(([day, category, region]) => {
      if (!live) return;
      const refused = [day, category, region].find((a) => !a.ok);
      if (refused) return setError(t("dash.unavailable", { detail: problemText(refused.problem) }));
      setError("");
      setData({ day: day.data, category: category.data, region: region.data });
    });
    return () => { live = false; };
  }, [period, session.shopId]);

  const configs = useMemo(() => data && {
    day: rateByDay(data.day.groups),
    reasons: pareto(data.day.reasons),
    times: times(data.day),
    category: rateByGroup(data.category.groups, COLORS.bar),
    region: rateByGroup(data.region.groups, COLORS.third),
  }, [data, lang]);

  return html`<main id="main" tabindex="-1" class="dashboard">
    <h1>${t("dash.title")}</h1>
    <div class="toolbar">
      <${WindowPicker} onPick=${setPeriod} />
      <${CsvDownload} shopId=${session.shopId} period=${period} />
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!data && !error && html`<p aria-live="polite">${t("loading")}</p>`}
    ${data && html`
      <${Kpis} stats=${data.day} />
      ${data.day.approximate && html`<p class="hint">${t("dash.approximate")}</p>`}
      ${data.day.returns === 0 && html`<p class="muted">${t("dash.no_data")}</p>`}
      <div class="charts">
        <${ChartCanvas} id="chart-rate-by-day" title=${t("chart.rate_by_day")} config=${configs.day} />
        <${ChartCanvas} id="chart-reasons" title=${t("chart.reasons")} config=${configs.reasons} />
        <${ChartCanvas} id="chart-times" title=${t("chart.times")} config=${configs.times} />
        <${ChartCanvas} id="chart-by-category" title=${t("chart.by_category")} config=${configs.category} />
        <${ChartCanvas} id="chart-by-region" title=${t("chart.by_region")} config=${configs.region} />
      </div>`}
  </main>`;
}
