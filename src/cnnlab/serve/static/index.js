// The runs table: GET /api/runs every 2 s; sort by a clicked header, filter, select, compare.
"use strict";

(() => {
  const { el, fetchJSON, fmt, score, seconds, statusBadge, showError, runUrl } = cnnlab;
  const COLUMNS = [
    { key: "name", label: "run", kind: "text" },
    { key: "status", label: "status", kind: "text" },
    { key: "model", label: "model", kind: "text" },
    { key: "dataset", label: "dataset", kind: "text" },
    { key: "sweep", label: "sweep", kind: "text" },
    { key: "epochs_done", label: "epochs", kind: "num" },
    { key: "best_val_accuracy", label: "best val acc", kind: "num", score: true },
    { key: "test_accuracy", label: "test acc", kind: "num", score: true },
    { key: "test_f1_macro", label: "test F1", kind: "num", score: true },
    { key: "train_seconds", label: "time", kind: "num" },
    { key: "started", label: "started", kind: "text" },
  ];
  const state = { runs: [], sortKey: "started", descending: true, selected: new Set() };
  const holder = document.getElementById("runs");
  const filter = document.getElementById("filter");
  const statusFilter = document.getElementById("status-filter");
  const compare = document.getElementById("compare");

  function compareValues(a, b, key) {
    const x = a[key];
    const y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1; // missing values last either way
    if (y === null || y === undefined) return -1;
    const order = typeof x === "number" && typeof y === "number" ? x - y
      : String(x).localeCompare(String(y), undefined, { numeric: true });
    return state.descending ? -order : order;
  }

  function visibleRuns() {
    const text = filter.value.trim().toLowerCase();
    const status = statusFilter.value;
    return state.runs
      .filter((r) => !status || r.status === status)
      .filter((r) => !text || [r.id, r.name, r.model, r.dataset, r.sweep, r.status]
        .some((v) => v && String(v).toLowerCase().includes(text)))
      .sort((a, b) => compareValues(a, b, state.sortKey) || String(a.id).localeCompare(b.id));
  }

  function cell(run, column) {
    const value = run[column.key];
    if (column.key === "name") {
      const link = el("a", { href: runUrl("/run", run.id), title: run.id }, run.name || run.id);
      const errors = (run.errors || []).join("\n");
      return el("td", {}, link, errors ? el("span", { class: "warn-mark", title: errors }, " ⚠") : null);
    }
    if (column.key === "status") return el("td", {}, statusBadge(value));
    if (column.key === "epochs_done") {
      return el("td", { class: "num" }, `${fmt(value)} / ${fmt(run.epochs_planned)}`);
    }
    if (column.key === "train_seconds") return el("td", { class: "num" }, seconds(value));
    if (column.key === "started") return el("td", {}, value ? String(value).replace("T", " ").slice(0, 16) : "–");
    if (column.score) return el("td", { class: "num" }, score(value));
    return el("td", { class: column.kind === "num" ? "num" : null }, fmt(value));
  }

  function render() {
    const runs = visibleRuns();
    const header = el("tr", {}, el("th", {}, ""), COLUMNS.map((c) => {
      const arrow = c.key === state.sortKey ? (state.descending ? " ▼" : " ▲") : "";
      return el("th", {
        scope: "col", class: "sortable", "data-key": c.key,
        "aria-sort": c.key === state.sortKey ? (state.descending ? "descending" : "ascending") : null,
        onclick: () => {
          state.descending = state.sortKey === c.key ? !state.descending : c.kind === "num";
          state.sortKey = c.key;
          render();
        },
      }, c.label + arrow);
    }));
    const rows = runs.map((run) => el("tr", { "data-id": run.id },
      el("td", {}, el("input", {
        type: "checkbox", "aria-label": `select ${run.id}`, checked: state.selected.has(run.id),
        onchange: (event) => {
          if (event.target.checked) state.selected.add(run.id);
          else state.selected.delete(run.id);
          updateCompare();
        },
      })),
      COLUMNS.map((c) => cell(run, c))));
    const body = runs.length ? rows
      : [el("tr", {}, el("td", { colspan: COLUMNS.length + 1, class: "muted" }, "no runs match"))];
    holder.replaceChildren(el("table", { id: "runs-table" }, el("thead", {}, header), el("tbody", {}, body)));
    document.getElementById("count").textContent = `${runs.length} of ${state.runs.length} runs`;
    updateCompare();
  }

  function updateCompare() {
    const known = new Set(state.runs.map((r) => r.id));
    for (const id of state.selected) if (!known.has(id)) state.selected.delete(id);
    compare.disabled = state.selected.size < 1;
    compare.textContent = `Compare (${state.selected.size})`;
  }

  compare.addEventListener("click", () => {
    const params = new URLSearchParams();
    for (const id of state.selected) params.append("run", id);
    window.location.href = `/compare?${params}`;
  });
  filter.addEventListener("input", render);
  statusFilter.addEventListener("change", render);

  async function refresh() {
    try {
      const data = await fetchJSON("/api/runs");
      document.getElementById("runs-dir").textContent = data.runs_dir;
      state.runs = data.runs;
      // Redraw without losing focus or a half-typed filter: only the table is rebuilt.
      render();
    } catch (error) {
      showError(holder, error);
    }
  }
  refresh();
  setInterval(refresh, 2000);
})();
