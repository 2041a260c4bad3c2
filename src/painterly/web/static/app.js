// painterly studio: the page. Talks to the local server only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { options: null, images: [], job: null, source: null, history: [] };

async function api(path, init) {
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { ok: response.ok, status: response.status, body };
}

function fmt(x) {
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1000 || a < 0.01 ? x.toExponential(2) : String(Number(x.toPrecision(3)));
}

function clearErrors() {
  document.querySelectorAll(".err").forEach((e) => { e.textContent = ""; });
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  $("message").textContent = "";
}

function showError(field, text) {
  const slot = document.querySelector(`.err[data-for="${field}"]`);
  if (slot) slot.textContent = text; else $("message").textContent = `${field}: ${text}`;
  const input = $(field) || (field === "content_layers" ? $("content_layer") : null);
  if (input) input.classList.add("invalid");
}

// ---- images -----------------------------------------------------------------

function imageLabel(id) { return id.startsWith("b-") ? id.slice(2) : "upload " + id.slice(2, 8); }

function maskChoices(selected, none) {
  // Masks: the bundled ones and any uploaded image (white = the region).
  const ids = [...state.options.masks, ...state.images.filter((id) => id.startsWith("u-"))];
  return `<option value="">${none}</option>` + ids.map((id) =>
    `<option value="${id}"${id === selected ? " selected" : ""}>${imageLabel(id)}</option>`).join("");
}

function renderImages() {
  const photo = document.querySelector("input[name=photo]:checked")?.value;
  const chosen = new Set([...document.querySelectorAll("input[name=painting]:checked")].map((i) => i.value));
  for (const [box, name, type] of [[$("photos"), "photo", "radio"], [$("paintings"), "painting", "checkbox"]]) {
    box.innerHTML = "";
    for (const id of state.images) {
      const label = document.createElement("label");
      label.title = imageLabel(id);
      const input = document.createElement("input");
      Object.assign(input, { type, name, value: id });
      input.checked = name === "photo" ? id === photo : chosen.has(id);
      input.addEventListener("change", renderStyleWeights);
      const img = document.createElement("img");
      Object.assign(img, { src: `/api/images/${id}`, alt: imageLabel(id), loading: "lazy" });
      label.append(input, img);
      box.append(label);
    }
  }
  const select = $("inside-image");
  select.innerHTML = state.images.map((id) => `<option value="${id}">${imageLabel(id)}</option>`).join("");
  $("content_mask").innerHTML = maskChoices($("content_mask").value, "none: the same everywhere");
  renderStyleWeights();
}

function renderStyleWeights() {
  // One row per chosen painting: its weight (with two or more) and its region.
  const box = $("style-weights");
  const old = Object.fromEntries([...box.querySelectorAll(".lw")].map((row) =>
    [row.dataset.id, { weight: row.querySelector("input")?.value, mask: row.querySelector("select").value }]));
  box.innerHTML = "";
  const chosen = [...document.querySelectorAll("input[name=painting]:checked")].map((i) => i.value);
  for (const id of chosen) {
    const row = document.createElement("div");
    row.className = "lw";
    row.dataset.id = id;
    const weight = chosen.length > 1
      ? `<input type="range" min="0" max="1" step="0.05" aria-label="weight of ${imageLabel(id)}"><output></output>`
      : "<span></span><span></span>";
    row.innerHTML = `<span>${imageLabel(id)}</span>${weight}` +
      `<select class="region" aria-label="region of ${imageLabel(id)}">${maskChoices(old[id]?.mask, "the rest of the picture")}</select>`;
    const input = row.querySelector("input");
    if (input) {
      input.value = old[id]?.weight ?? 1;
      const out = row.querySelector("output");
      const show = () => { out.textContent = Number(input.value).toFixed(2); };
      input.addEventListener("input", show);
      show();
    }
    box.append(row);
  }
}

async function uploadFiles(files) {
  // One file: a painting if a photo is chosen, else the photo. Several at once: the
  // first is the photo, the others the paintings.
  const batch = [...files];
  const ids = [];
  for (const file of batch) {
    const data = new FormData();
    data.append("file", file);
    const reply = await api("/api/uploads", { method: "POST", body: data });
    if (!reply.ok) { showError("upload", `${file.name}: ${reply.body?.error ?? reply.status}`); continue; }
    state.images.push(reply.body.id);
    ids.push(reply.body.id);
  }
  if (!ids.length) return;
  renderImages();
  const pick = (name, id) => { document.querySelector(`input[name=${name}][value="${id}"]`).checked = true; };
  if (ids.length > 1) {
    document.querySelectorAll("input[name=painting]").forEach((i) => { i.checked = false; });
    pick("photo", ids[0]);
    ids.slice(1).forEach((id) => pick("painting", id));
  } else {
    pick(document.querySelector("input[name=photo]:checked") ? "painting" : "photo", ids[0]);
  }
  renderStyleWeights();
}

// ---- form ---------------------------------------------------------------------

function setLog(id, value) {
  $(id).value = Math.log10(value);
  $(id + "_out").textContent = fmt(value);
}

function fill(values) {
  const o = state.options;
  const v = { ...o.fields, ...values };
  setLog("style_weight", v.style_weight);
  setLog("content_weight", v.content_weight);
  $("size").value = v.size; $("iterations").value = v.iterations;
  $("time").value = v.time ?? ""; $("seed").value = v.seed ?? "";
  $("preserve_colors").value = v.preserve_colors; $("init").value = v.init;
  $("strength").value = v.strength; $("strength_out").textContent = Number(v.strength).toFixed(2);
  $("content_layer").value = (v.content_layers ?? o.fields.content_layers)[0];
  const weights = v.layer_weights ?? o.fields.style_layers.map(() => 1 / o.fields.style_layers.length);
  document.querySelectorAll("#layer-weights input").forEach((input, i) => {
    input.value = weights[i] ?? 0; input.dispatchEvent(new Event("input"));
  });
}

function applyPreset() {
  const preset = state.options.presets[$("preset").value] ?? {};
  fill({ ...preset, size: Number($("size").value) || state.options.fields.size });
}

function params() {
  const p = {
    style_weight: Number(fmt(10 ** Number($("style_weight").value))),
    content_weight: Number(fmt(10 ** Number($("content_weight").value))),
    size: Number($("size").value),
    iterations: Number($("iterations").value),
    preserve_colors: $("preserve_colors").value,
    init: $("init").value,
    strength: Number($("strength").value),
    content_layers: [$("content_layer").value],
    layer_weights: [...document.querySelectorAll("#layer-weights input")].map((i) => Number(i.value)),
  };
  if ($("time").value !== "") p.time = Number($("time").value);
  if ($("seed").value !== "") p.seed = Number($("seed").value);
  const sw = [...document.querySelectorAll("#style-weights input[type=range]")].map((i) => Number(i.value));
  if (sw.length) p.style_weights = sw;
  return p;
}

async function start(event) {
  event.preventDefault();
  clearErrors();
  const photo = document.querySelector("input[name=photo]:checked")?.value;
  const styles = [...document.querySelectorAll("input[name=painting]:checked")].map((i) => i.value);
  const masks = {};
  document.querySelectorAll("#style-weights .region").forEach((select, i) => { if (select.value) masks[i] = select.value; });
  const body = {
    content: photo, styles, preset: $("preset").value, params: params(),
    masks, content_mask: $("content_mask").value || null,
  };
  const reply = await api("/api/jobs", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!reply.ok) {
    if (reply.body?.fields) Object.entries(reply.body.fields).forEach(([k, v]) => showError(k, v));
    else if (reply.body?.field) showError(reply.body.field, reply.body.error);
    else $("message").textContent = reply.body?.error ?? `the server answered ${reply.status}`;
    return;
  }
  follow(reply.body.id);
}

// ---- live ---------------------------------------------------------------------

function follow(id) {
  state.job = id;
  state.history = [];
  $("cancel").disabled = false;
  $("progress").value = 0;
  const source = new EventSource(`/api/jobs/${id}/events`);
  state.source = source;
  const end = (text) => {
    source.close();
    $("cancel").disabled = true;
    $("status").textContent = text;
    state.job = null;
    loadGallery();
  };
  source.addEventListener("queued", (e) => {
    const { position } = JSON.parse(e.data);
    $("status").textContent = position > 0 ? `Waiting: ${position} run(s) ahead of this one.` : "Starting…";
  });
  source.addEventListener("started", () => { $("status").textContent = "Loading the network…"; });
  source.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    state.history.push({ step: p.step, ...p.losses });
    if (p.preview) { $("preview").src = p.preview; $("preview").hidden = false; }
    $("progress").value = p.work ?? 0;
    const left = p.eta !== undefined ? `, about ${Math.ceil(p.eta)} s left` : "";
    $("status").textContent =
      `Step ${p.step}${p.total ? " of " + p.total : ""} at ${p.size[0]}×${p.size[1]} (size ${p.scale}/${p.scales})${left}. ` +
      `Style ${fmt(p.losses.style)}, content ${fmt(p.losses.content)}.`;
    drawChart();
  });
  source.addEventListener("done", (e) => {
    const r = JSON.parse(e.data).result;
    end(`Done: ${r.steps} steps in ${r.seconds.toFixed(1)} s.`);
  });
  source.addEventListener("cancelled", (e) => {
    const kept = JSON.parse(e.data).kept;
    end(kept ? "Cancelled: the picture reached so far is in the gallery." : "Cancelled before it started.");
  });
  source.addEventListener("interrupted", () => {
    end("The server stopped: the picture reached so far is in the gallery, marked interrupted.");
  });
  source.addEventListener("failed", (e) => { end("Failed: " + JSON.parse(e.data).error); });
  source.onerror = () => {
    if (state.job !== id) return;
    if (source.readyState === EventSource.CLOSED) end("Lost the server.");
    else $("status").textContent = "The server is away: following this run again when it is back…";
  };
}

async function cancel() {
  if (state.job) await api(`/api/jobs/${state.job}/cancel`, { method: "POST" });
}

function drawChart() {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 26;
  ctx.clearRect(0, 0, w, h);
  const keys = [["total", "#1d1d1f"], ["style", "#2f5bd3"], ["content", "#c2571a"]];
  const values = state.history.flatMap((p) => keys.map(([k]) => p[k])).filter((v) => v > 0);
  if (values.length < 2) return;
  const lo = Math.log10(Math.min(...values)), hi = Math.log10(Math.max(...values)) + 1e-9;
  const n = state.history.length;
  const x = (i) => pad + (i / Math.max(n - 1, 1)) * (w - pad - 8);
  const y = (v) => h - pad + 8 - ((Math.log10(v) - lo) / (hi - lo)) * (h - pad - 4);
  ctx.font = "11px system-ui"; ctx.fillStyle = "#6b6b70";
  ctx.fillText(fmt(10 ** hi), 0, 10); ctx.fillText(fmt(10 ** lo), 0, h - pad + 8);
  ctx.fillText("step →", w - 50, h - 4);
  keys.forEach(([key, colour], k) => {
    ctx.strokeStyle = colour; ctx.beginPath();
    state.history.forEach((p, i) => { if (p[key] > 0) ctx[i ? "lineTo" : "moveTo"](x(i), y(p[key])); });
    ctx.stroke();
    ctx.fillStyle = colour; ctx.fillText(key, pad + 4 + k * 60, h - 4);
  });
}

// ---- gallery and inside -------------------------------------------------------

async function loadGallery() {
  const reply = await api("/api/results");
  const box = $("gallery");
  box.innerHTML = "";
  for (const run of reply.body ?? []) {
    const card = document.createElement("div");
    card.className = "card";
    const f = run.form;
    const base = `/api/results/${run.id}`;
    card.innerHTML =
      `<a href="${base}/image.png" target="_blank"><img src="${base}/image.png" alt="result ${run.id}"></a>` +
      `<div>${run.size[0]}×${run.size[1]}, ${run.steps} steps, ${run.seconds.toFixed(0)} s${run.interrupted ? (run.stopped_by ? " (interrupted: the server stopped)" : " (cancelled)") : ""}</div>` +
      `<div>style ${fmt(run.config.style_weight)}, content ${fmt(run.config.content_weight)}, ${f.preset}</div>` +
      `<div class="links"><a class="button small" href="${base}/image.png?download" download>PNG</a>` +
      `<a class="button small" href="${base}/record.json?download" download>JSON</a>` +
      `<button type="button" class="button small load">Load parameters</button></div>`;
    card.querySelector(".load").addEventListener("click", () => loadParams(run.form));
    box.append(card);
  }
}

function loadParams(form) {
  clearErrors();
  $("preset").value = form.preset;
  fill(form);
  for (const id of [form.content, ...form.styles]) if (!state.images.includes(id)) state.images.push(id);
  renderImages();
  document.querySelectorAll("input[name=photo]").forEach((i) => { i.checked = i.value === form.content; });
  document.querySelectorAll("input[name=painting]").forEach((i) => { i.checked = form.styles.includes(i.value); });
  renderStyleWeights();
  if (form.style_weights) {
    document.querySelectorAll("#style-weights input[type=range]").forEach((input, i) => {
      input.value = form.style_weights[i]; input.dispatchEvent(new Event("input"));
    });
  }
  document.querySelectorAll("#style-weights .region").forEach((select, i) => {
    select.value = form.masks?.[i] ?? "";
  });
  $("content_mask").value = form.content_mask ?? "";
  $("status").textContent = "Parameters loaded from the gallery.";
}

function showInside() {
  if (!state.options.inside) {
    $("inside").textContent = "See inside needs matplotlib on the server: pip install 'painterly[web,explain]'";
    return;
  }
  const image = $("inside-image").value, layer = $("inside-layer").value;
  const q = `image=${encodeURIComponent(image)}&layer=${encodeURIComponent(layer)}`;
  $("inside").innerHTML =
    `<img alt="feature maps of ${layer}" src="/api/inside/features?${q}">` +
    `<img alt="Gram matrix of ${layer}" src="/api/inside/gram?${q}">`;
}

// ---- start ----------------------------------------------------------------------

async function init() {
  const reply = await api("/api/options");
  if (!reply.ok) { $("message").textContent = reply.body?.error ?? `the server answered ${reply.status}`; return; }
  const o = reply.body;
  state.options = o;
  state.images = [...o.bundled];
  $("size").max = o.limits.max_size;
  $("iterations").max = o.limits.max_iterations;
  const options = (list) => list.map((v) => `<option value="${v}">${v}</option>`).join("");
  $("preserve_colors").innerHTML = options(o.choices.preserve_colors);
  $("init").innerHTML = options(o.choices.init);
  $("content_layer").innerHTML = options(o.layers);
  $("inside-layer").innerHTML = options(o.layers);
  $("layer-weights").innerHTML = o.fields.style_layers.map((name) =>
    `<div class="lw"><span>${name}</span><input type="range" min="0" max="1" step="0.05"><output></output></div>`).join("");
  document.querySelectorAll("#layer-weights .lw").forEach((row) => {
    const input = row.querySelector("input"), out = row.querySelector("output");
    input.addEventListener("input", () => { out.textContent = Number(input.value).toFixed(2); });
  });
  for (const id of ["style_weight", "content_weight"]) {
    $(id).addEventListener("input", () => { $(id + "_out").textContent = fmt(10 ** Number($(id).value)); });
  }
  $("strength").addEventListener("input", () => { $("strength_out").textContent = Number($("strength").value).toFixed(2); });
  renderImages();
  // The server says which bundled images to start with.
  const pick = (name, id) => { const i = document.querySelector(`input[name=${name}][value="${id}"]`); if (i) i.checked = true; };
  pick("photo", o.start.content);
  o.start.styles.forEach((id) => pick("painting", id));
  renderStyleWeights();
  fill({});
  $("preset").addEventListener("change", applyPreset);
  $("form").addEventListener("submit", start);
  $("cancel").addEventListener("click", cancel);
  $("upload").addEventListener("change", (e) => uploadFiles(e.target.files));
  $("inside-go").addEventListener("click", showInside);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadFiles(e.dataTransfer.files); });
  loadGallery();
}

init();
