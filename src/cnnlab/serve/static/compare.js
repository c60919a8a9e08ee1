// Several runs side by side: one metric table, each curve overlaid, and the pivot tables of
// the sweeps they belong to (results.md rendered as tables).
"use strict";

(() => {
  const { el, fetchJSON, score, seconds, statusBadge, showError, table, queryAll, runUrl, lineChart, align,
    markdownTables } = cnnlab;
  const ids = queryAll("run");
  const CURVES = [
    ["train_loss", "train loss"], ["val_loss", "validation loss"],
    ["train_accuracy", "train accuracy"], ["val_accuracy", "validation accuracy"],
    ["val_f1", "validation F1 (macro)"], ["lr", "learning rate"],
  ];

  function metricTable(runs) {
    const columns = [
      { key: "id", label: "run", format: (v) => el("a", { href: runUrl("/run", v) }, v) },
      { key: "status", label: "status", format: (v) => statusBadge(v) },
      { key: "model", label: "model" }, { key: "dataset", label: "dataset" },
      { key: "epochs_done", label: "epochs" },
      { key: "best_val_accuracy", label: "best val acc", format: score },
      { key: "test_accuracy", label: "test acc", format: score },
      { key: "test_f1_macro", label: "test F1", format: score },
      { key: "train_seconds", label: "time", format: (v) => seconds(v) },
    ];
    // The best value of each score column is marked so the winner is seen at a glance.
    const node = table(columns, runs, { id: "compare-table" });
    for (const key of ["best_val_accuracy", "test_accuracy", "test_f1_macro"]) {
      const values = runs.map((r) => r[key]).filter((v) => typeof v === "number");
      if (!values.length) continue;
      const best = Math.max(...values);
      const col = columns.findIndex((c) => c.key === key);
      runs.forEach((r, i) => {
        if (r[key] === best) node.tBodies[0].rows[i].cells[col].classList.add("best");
      });
    }
    return node;
  }

  function drawCurves(runs, curves) {
    const holder = document.getElementById("charts");
    holder.replaceChildren();
    for (const [key, title] of CURVES) {
      const present = runs.filter((r) => ((curves[r.id] || {}).epochs || []).some((row) => row[key] !== null && row[key] !== undefined));
      if (!present.length) continue;
      const pairs = present.map((r) => {
        const rows = curves[r.id].epochs;
        return [rows.map((row) => row.epoch), rows.map((row) => row[key] ?? null)];
      });
      const [xs, aligned] = align(pairs);
      lineChart(holder, title, "epoch", present.map((r, i) => ({ label: r.name || r.id, values: aligned[i] })), { xs });
    }
    if (!holder.children.length) holder.append(el("p", { class: "muted" }, "no epochs recorded yet"));
  }

  async function start() {
    if (!ids.length) {
      showError(document.getElementById("error"), new Error("no runs given: select runs on the runs page"));
      return;
    }
    const params = new URLSearchParams();
    ids.forEach((id) => params.append("run", id));
    try {
      const data = await fetchJSON(`/api/compare?${params}`);
      document.getElementById("count").textContent = `${data.runs.length} runs`;
      document.getElementById("table").replaceChildren(metricTable(data.runs));
      drawCurves(data.runs, data.curves || {});
      const sweeps = Object.entries(data.sweep_tables || {});
      const holder = document.getElementById("sweeps");
      holder.replaceChildren(...sweeps.map(([name, text]) => el("div", { class: "sweep" },
        el("h3", {}, name), markdownTables(text),
        el("details", {}, el("summary", {}, "results.md as text"), el("pre", {}, text)))));
      if (!sweeps.length) document.getElementById("sweeps-section").hidden = true;
      // While any compared run trains, the page follows it: redrawn every 2 s until all settle.
      if (data.runs.some((r) => r.status === "running")) setTimeout(start, 2000);
    } catch (error) {
      showError(document.getElementById("error"), error);
    }
  }
  start();
})();
