// Try a finished run: draw on the canvas (white on black for 1-channel runs, as MNIST looks)
// or pick a file, POST it to /api/predict, and show the top-k bars, Grad-CAM, the input as the
// model saw it after the server's preprocessing, the first feature maps and any warnings.
"use strict";

(() => {
  const { el, fetchJSON, showError, query, runUrl } = cnnlab;
  const id = query("run");
  const SCALE = 3; // the input check warns from 4 times the training images' size
  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d");
  const output = document.getElementById("output");
  const fileInput = document.getElementById("file");
  const state = { gray: true, drawing: false, last: null, file: null, drawn: false };

  function clearPad() {
    ctx.fillStyle = state.gray ? "#000000" : "#ffffff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    state.drawn = false;
  }

  function point(event) {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * (pad.width / box.width), (event.clientY - box.top) * (pad.height / box.height)];
  }

  function stroke(to) {
    ctx.strokeStyle = state.gray ? "#ffffff" : document.getElementById("color").value;
    ctx.fillStyle = ctx.strokeStyle;
    // The slider is in screen pixels; the canvas may hold fewer pixels than it shows.
    const scale = pad.width / pad.getBoundingClientRect().width;
    ctx.lineWidth = Number(document.getElementById("brush").value) * scale;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    const from = state.last || to;
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
    state.last = to;
    state.drawn = true;
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    state.drawing = true;
    state.last = null;
    useDrawing();
    stroke(point(event));
  });
  pad.addEventListener("pointermove", (event) => {
    if (state.drawing) stroke(point(event));
  });
  for (const name of ["pointerup", "pointercancel", "pointerleave"]) {
    pad.addEventListener(name, () => {
      state.drawing = false;
      state.last = null;
    });
  }
  pad.style.touchAction = "none"; // a finger draws instead of scrolling the page

  function useDrawing() {
    if (state.file) {
      state.file = null;
      fileInput.value = "";
    }
    document.getElementById("source").textContent = "predicting the drawing";
  }

  document.getElementById("clear").addEventListener("click", () => {
    clearPad();
    useDrawing();
  });
  fileInput.addEventListener("change", () => {
    state.file = fileInput.files[0] || null;
    document.getElementById("source").textContent = state.file
      ? `predicting the file ${state.file.name}` : "predicting the drawing";
  });

  const image = (b64, alt, cls) => el("img", { src: `data:image/png;base64,${b64}`, alt, class: cls });

  function showPrediction(result) {
    const top = result.top || [];
    const bars = el("div", { class: "bars", id: "bars" }, top.map((t) => el("div", { class: "bar-row" },
      el("span", { class: "bar-label" }, t.class),
      el("span", { class: "bar" }, el("span", { class: "fill", style: `width:${(100 * t.probability).toFixed(1)}%` })),
      el("span", { class: "bar-value num" }, `${(100 * t.probability).toFixed(1)}%`))));
    const warnings = (result.warnings || []).map((w) => el("p", { class: "warning" }, w));
    const maps = (result.feature_maps || []).map((m) =>
      el("figure", {}, image(m.png, `feature maps of ${m.layer}`, "maps"), el("figcaption", {}, m.layer)));
    output.replaceChildren(
      el("h2", {}, "Prediction"),
      ...warnings,
      el("p", { class: "verdict" }, top.length ? `${top[0].class}` : "no prediction",
        el("span", { class: "muted" }, ` in ${Number(result.milliseconds || 0).toFixed(1)} ms`)),
      bars,
      el("div", { class: "images" },
        el("figure", {}, image(result.input_png, "the preprocessed input", "pixel"), el("figcaption", {}, "input as the model sees it")),
        el("figure", {}, image(result.gradcam_png, "Grad-CAM", "pixel gradcam"), el("figcaption", {}, `Grad-CAM for ${top.length ? top[0].class : "?"}`))),
      el("h3", {}, "Feature maps"),
      el("div", { class: "images" }, maps.length ? maps : el("p", { class: "muted" }, "none")),
    );
  }

  async function predict() {
    const button = document.getElementById("predict");
    button.disabled = true;
    try {
      const blob = state.file || await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
      const form = new FormData();
      form.append("image", blob, state.file ? state.file.name : "drawing.png");
      form.append("invert", document.getElementById("invert").checked ? "true" : "false");
      form.append("k", document.getElementById("k").value);
      const result = await fetchJSON(`/api/predict?run=${encodeURIComponent(id)}`, { method: "POST", body: form });
      document.getElementById("error").replaceChildren();
      showPrediction(result);
    } catch (error) {
      showError(document.getElementById("error"), error);
    } finally {
      button.disabled = false;
    }
  }
  document.getElementById("predict").addEventListener("click", predict);

  async function start() {
    clearPad();
    if (!id) {
      showError(document.getElementById("error"), new Error("no run given: open /try?run=ID"));
      return;
    }
    document.getElementById("run-id").textContent = id;
    document.getElementById("links").replaceChildren(el("a", { href: "/" }, "all runs"), el("a", { href: runUrl("/run", id) }, "the run"));
    try {
      const run = await fetchJSON(`/api/run?run=${encodeURIComponent(id)}`);
      const shape = run.in_shape;
      state.gray = !shape || shape[0] === 1;
      document.getElementById("color-label").hidden = state.gray;
      if (shape) {
        // The drawing holds SCALE times the run's pixels a side: fine enough to draw on, close
        // enough to the training images' size that the server's resize is the usual one.
        pad.width = SCALE * shape[2];
        pad.height = SCALE * shape[1];
        pad.style.height = `${Math.round(280 * shape[1] / shape[2])}px`;
      }
      clearPad();
      const classes = (run.class_names || []).join(", ");
      document.getElementById("about").textContent = `${shape ? `input ${shape.join("×")}` : ""}` +
        `${state.gray ? ": draw white on black, as MNIST looks" : ""}; the drawing is scaled down by the ` +
        `server's preprocessing. Classes: ${classes}`;
      const status = run.status && run.status.status;
      if (!["finished", "early_stopped"].includes(status)) {
        showError(document.getElementById("error"), new Error(`this run is ${status}: only finished runs predict`));
      }
    } catch (error) {
      showError(document.getElementById("error"), error);
    }
  }
  start();
})();
