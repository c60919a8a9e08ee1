// cnnlab serve: helpers shared by the four pages. Plain JS, no build step.
// Every run-provided string goes into the page through textContent or attributes, never
// through innerHTML, so a run named "<img onerror=...>" is shown as text.
"use strict";

const cnnlab = (() => {
  /** Build an element: el("td", {class: "num", title: "x"}, "text", childNode, ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** GET or POST and parse JSON; throws an Error carrying the server's "detail". */
  async function fetchJSON(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const detail = body && body.detail ? body.detail : response.statusText;
      throw new Error(`${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    }
    return body;
  }

  const query = (name) => new URLSearchParams(window.location.search).get(name);
  const queryAll = (name) => new URLSearchParams(window.location.search).getAll(name);
  const runUrl = (page, id) => `${page}?run=${encodeURIComponent(id)}`;

  /** A number for a table cell: fractions with 4 decimals, null as an en dash. */
  function fmt(value, digits = 4) {
    if (value === null || value === undefined || value === "") return "–";
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(digits);
  }

  /** A score (accuracy, F1...) always with 4 decimals, so 1.0 reads 1.0000 beside 0.9430. */
  const score = (value) => (typeof value === "number" ? value.toFixed(4) : fmt(value));

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 60) return `${value.toFixed(1)} s`;
    if (value < 3600) return `${(value / 60).toFixed(1)} min`;
    return `${(value / 3600).toFixed(2)} h`;
  }

  function statusBadge(status) {
    return el("span", { class: `status status-${String(status).replace(/[^a-z_]/g, "")}` }, status);
  }

  function showError(where, error) {
    where.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
  }

  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  /**
   * A line chart in `holder`: xs and a list of {label, values} (null where missing).
   * Returns {update(xs, series)} so a polling page redraws without rebuilding.
   */
  function lineChart(holder, title, xLabel, series, options = {}) {
    const figure = el("figure", { class: "chart", "data-title": title });
    const caption = el("figcaption", {}, title);
    const plotHolder = el("div", { class: "plot" });
    figure.append(caption, plotHolder);
    holder.append(figure);
    // Three charts a row on a wide window, one on a phone.
    const width = () => Math.max(300, Math.min(560, Math.floor((holder.clientWidth || 1200) / 3) - 30));
    const tick = (v) => (v === 0 ? "0" : Math.abs(v) < 0.01 || Math.abs(v) >= 1e5 ? v.toExponential(1)
      : String(Number(v.toPrecision(4))));
    const opts = {
      width: width(),
      height: options.height || 220,
      scales: { x: { time: false }, y: options.log ? { distr: 3 } : {} },
      axes: [{ label: xLabel }, { size: 64, values: (u, ticks) => ticks.map(tick) }],
      series: [
        { label: xLabel },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: options.points !== false, size: 5 },
        })),
      ],
      legend: { show: true },
    };
    const data = [options.xs || [], ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, plotHolder);
    // Follow the window: a resized window redraws the chart at its new share of the width.
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => plot.setSize({ width: width(), height: opts.height }), 150);
    });
    const mark = (xs) => {
      figure.dataset.points = String(xs.length);
    };
    mark(data[0]);
    return {
      figure,
      update(xs, values) {
        plot.setData([xs, ...values]);
        mark(xs);
      },
    };
  }

  /** Union of x values from several (xs, ys) pairs, each ys aligned to it (null elsewhere). */
  function align(pairs) {
    const all = [...new Set(pairs.flatMap(([xs]) => xs))].sort((a, b) => a - b);
    const index = new Map(all.map((x, i) => [x, i]));
    const aligned = pairs.map(([xs, ys]) => {
      const out = new Array(all.length).fill(null);
      xs.forEach((x, i) => {
        out[index.get(x)] = ys[i];
      });
      return out;
    });
    return [all, aligned];
  }

  /** A table of rows: columns [{key, label, format?}], rows objects. */
  function table(columns, rows, attrs = {}) {
    const head = el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)));
    const body = rows.map((row) =>
      el("tr", {}, columns.map((c) => {
        const v = row[c.key];
        return el("td", { class: typeof v === "number" ? "num" : null },
          c.format ? c.format(v, row) : fmt(v));
      })));
    return el("table", attrs, el("thead", {}, head), el("tbody", {}, body));
  }

  /** Render markdown text holding pipe tables as HTML tables; other lines as paragraphs. */
  function markdownTables(text) {
    const out = el("div", { class: "markdown" });
    const lines = text.split(/\r?\n/);
    const cells = (line) => line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|")
      .map((c) => c.trim());
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const isRule = (l) => l !== undefined && /^\s*\|?\s*:?-{2,}/.test(l) && l.includes("-");
      if (line.trim().startsWith("|") && isRule(lines[i + 1])) {
        const header = cells(line);
        const rows = [];
        i += 2;
        while (i < lines.length && lines[i].trim().startsWith("|")) rows.push(cells(lines[i++]));
        const columns = header.map((label, k) => ({ key: k, label: label.replace(/\*\*/g, "") }));
        out.append(table(columns, rows.map((r) => Object.fromEntries(r.map((c, k) =>
          [k, c.replace(/\*\*/g, "").replace(/`/g, "")]))), { class: "pivot" }));
      } else if (line.startsWith("#")) {
        out.append(el("h4", {}, line.replace(/^#+\s*/, "")));
        i += 1;
      } else {
        if (line.trim()) out.append(el("p", {}, line.replace(/`/g, "")));
        i += 1;
      }
    }
    return out;
  }

  return { el, fetchJSON, query, queryAll, runUrl, fmt, score, seconds, statusBadge, showError,
    lineChart, align, table, markdownTables, PALETTE };
})();
