// One run: its curves, polled from /api/history every second while it is running, then its
// metrics, per-class table, figures and config from /api/run.
"use strict";

(() => {
  const { el, fetchJSON, score, statusBadge, showError, table, query, runUrl, lineChart } = cnnlab;
  const id = query("run");
  const history = { epochs: [], iterations: [], status: null, planned: null };
  let charts = null;
  let figuresStamp = 0;

  const column = (rows, key) => rows.map((r) => (r[key] === undefined ? null : r[key]));

  /** The five charts: their series from the rows fetched so far. */
  function chartData() {
    const e = history.epochs;
    const it = history.iterations;
    const ex = column(e, "epoch");
    const has = (key) => e.some((r) => r[key] !== null && r[key] !== undefined);
    const pick = (keys) => keys.filter(has).map((k) => ({ label: k, values: column(e, k) }));
    const orFirst = (series, key) => (series.length ? series : [{ label: key, values: column(e, key) }]);
    const itLr = it.some((r) => r.lr !== null && r.lr !== undefined);
    return {
      iterations: { xs: column(it, "iteration"), series: [{ label: "loss", values: column(it, "loss") }] },
      loss: { xs: ex, series: orFirst(pick(["train_loss", "val_loss", "test_loss"]), "train_loss") },
      accuracy: { xs: ex, series: orFirst(pick(["train_accuracy", "val_accuracy", "test_accuracy"]), "train_accuracy") },
      f1: { xs: ex, series: orFirst(pick(["train_f1", "val_f1", "test_f1"]), "train_f1") },
      lr: itLr ? { xs: column(it, "iteration"), series: [{ label: "lr", values: column(it, "lr") }] }
        : { xs: ex, series: [{ label: "lr", values: column(e, "lr") }] },
      lrX: itLr ? "iteration" : "epoch",
    };
  }

  function drawCharts() {
    const data = chartData();
    const holder = document.getElementById("charts");
    const signature = ["loss", "accuracy", "f1"].map((k) => data[k].series.map((s) => s.label).join()).join("|") + data.lrX;
    if (!charts || charts.signature !== signature) {
      holder.replaceChildren();
      charts = {
        signature,
        iterations: lineChart(holder, "loss per iteration", "iteration", data.iterations.series,
          { xs: data.iterations.xs, points: false }),
        loss: lineChart(holder, "loss per epoch", "epoch", data.loss.series, { xs: data.loss.xs }),
        accuracy: lineChart(holder, "accuracy per epoch", "epoch", data.accuracy.series, { xs: data.accuracy.xs }),
        f1: lineChart(holder, "F1 (macro) per epoch", "epoch", data.f1.series, { xs: data.f1.xs }),
        lr: lineChart(holder, "learning rate", data.lrX, data.lr.series, { xs: data.lr.xs, points: data.lrX === "epoch" }),
      };
      return;
    }
    for (const key of ["iterations", "loss", "accuracy", "f1", "lr"]) {
      charts[key].update(data[key].xs, data[key].series.map((s) => s.values));
    }
  }

  function showProgress() {
    document.getElementById("status").replaceChildren(statusBadge(history.status));
    document.getElementById("progress").textContent =
      `epoch ${history.epochs.length} / ${history.planned ?? "?"}`;
    document.body.dataset.epochs = String(history.epochs.length);
    document.body.dataset.status = history.status;
  }

  function flatten(value, prefix, out) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    } else {
      out.push({ key: prefix, value: Array.isArray(value) ? JSON.stringify(value) : value });
    }
    return out;
  }

  function keyValueTable(mapping, skip = []) {
    const rows = flatten(mapping || {}, "", []).filter((r) => !skip.some((s) => r.key.startsWith(s)));
    return table([{ key: "key", label: "key", format: (v) => v }, { key: "value", label: "value" }], rows,
      { class: "kv" });
  }

  function showRun(run) {
    document.title = `cnnlab: ${run.id}`;
    document.getElementById("run-id").textContent = run.id;
    const links = [el("a", { href: "/" }, "all runs"), el("a", { href: runUrl("/compare", run.id) }, "compare")];
    const settled = ["finished", "early_stopped"].includes(run.status && run.status.status);
    if (settled) links.push(el("a", { href: runUrl("/try", run.id), id: "try-link" }, "try it"));
    document.getElementById("links").replaceChildren(...links);

    const metrics = document.getElementById("metrics");
    metrics.replaceChildren(run.metrics
      ? keyValueTable(run.metrics, ["per_class", "confusion_matrix", "most_confused", "highest_loss"])
      : el("p", { class: "muted" }, "no test metrics yet (the run is evaluated when it finishes)"));

    const perClass = document.getElementById("per-class");
    perClass.replaceChildren(run.per_class && run.per_class.length
      ? table(["class", "precision", "recall", "f1", "support"].map((k) =>
        ({ key: k, label: k, format: ["precision", "recall", "f1"].includes(k) ? score : null })), run.per_class)
      : el("p", { class: "muted" }, "none yet"));

    figuresStamp += 1;
    const figures = document.getElementById("figures");
    figures.replaceChildren(...(run.figures || []).map((name) => {
      const src = `/api/figure?run=${encodeURIComponent(run.id)}&name=${encodeURIComponent(name)}&v=${figuresStamp}`;
      return el("figure", {}, el("a", { href: src, target: "_blank" },
        el("img", { src, alt: name, loading: "lazy" })), el("figcaption", {}, name.replace(/_/g, " ")));
    }));
    if (!(run.figures || []).length) figures.append(el("p", { class: "muted" }, "no figures yet"));

    document.getElementById("config").replaceChildren(keyValueTable(run.config));
  }

  async function poll() {
    try {
      const url = `/api/history?run=${encodeURIComponent(id)}&epochs_from=${history.epochs.length}` +
        `&iterations_from=${history.iterations.length}`;
      const data = await fetchJSON(url);
      document.getElementById("error").replaceChildren();
      const was = history.status;
      history.epochs.push(...data.epochs);
      history.iterations.push(...data.iterations);
      history.status = data.status;
      history.planned = data.epochs_planned;
      showProgress();
      drawCharts();
      if (was === "running" && data.status !== "running") showRun(await fetchJSON(`/api/run?run=${encodeURIComponent(id)}`));
      if (data.status === "running") setTimeout(poll, 1000);
    } catch (error) {
      showError(document.getElementById("error"), error);
      setTimeout(poll, 3000); // a half-written file or a restarting server: try again
    }
  }

  async function start() {
    if (!id) {
      showError(document.getElementById("error"), new Error("no run given: open /run?run=ID"));
      return;
    }
    try {
      showRun(await fetchJSON(`/api/run?run=${encodeURIComponent(id)}`));
    } catch (error) {
      showError(document.getElementById("error"), error);
      return;
    }
    poll();
  }
  start();
})();
