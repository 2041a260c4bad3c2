// painterly studio: fast models. Pick a model and the chosen photo is painted by it
// at once (one pass of the network), again whenever the photo or a setting changes.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const fast = { models: [], shown: "", busy: false, again: false };

  function build() {
    const box = document.createElement("section");
    box.id = "fast";
    box.innerHTML =
      '<h2>Fast model</h2>' +
      '<label class="row">Model <select id="fast-model"><option value="">none</option></select></label>' +
      '<div id="fast-weights"></div>' +
      '<div id="fast-status" class="status"></div>' +
      '<div id="fast-card" class="card" hidden><img id="fast-picture" alt="the photo painted by the model">' +
      '<div class="links"><a id="fast-download" download="painterly-fast.png">download</a></div></div>';
    document.querySelector(".side").prepend(box);
  }

  const chosenPhoto = () => document.querySelector("input[name=photo]:checked")?.value ?? "";
  const chosenModel = () => fast.models.find((m) => m.id === byId("fast-model").value);

  function renderWeights() {
    // One slider per style of a model that holds several: the mix it paints.
    const box = byId("fast-weights");
    box.innerHTML = "";
    const model = chosenModel();
    if (!model || model.styles.length < 2) return;
    model.styles.forEach((name, i) => {
      const row = document.createElement("div");
      row.className = "lw";
      row.innerHTML = `<span></span><input type="range" min="0" max="1" step="0.05"><output></output>`;
      row.querySelector("span").textContent = name;
      const input = row.querySelector("input"), out = row.querySelector("output");
      input.value = i === 0 ? 1 : 0;
      input.setAttribute("aria-label", `weight of ${name}`);
      const show = () => { out.textContent = Number(input.value).toFixed(2); };
      input.addEventListener("input", show);
      input.addEventListener("change", paint);
      show();
      box.append(row);
    });
  }

  function params() {
    // The studio's own size, colours and strength, and the model's style mix.
    const out = { preserve_colors: byId("preserve_colors").value, strength: Number(byId("strength").value) };
    if (byId("size").value) out.size = Number(byId("size").value);
    const weights = [...document.querySelectorAll("#fast-weights input")].map((i) => Number(i.value));
    if (weights.length) out.style_weights = weights;
    return out;
  }

  function asDataUrl(blob) {
    // The page's policy shows images from the server or data: addresses only.
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  async function paint() {
    const model = chosenModel(), photo = chosenPhoto();
    if (!model || !photo) return;
    const body = JSON.stringify({ content: photo, params: params() });
    if (model.id + body === fast.shown) return;
    if (fast.busy) { fast.again = true; return; }
    fast.busy = true;
    fast.shown = model.id + body;
    const status = byId("fast-status");
    status.textContent = "painting…";
    const started = performance.now();
    try {
      const reply = await fetch(`/api/models/${encodeURIComponent(model.id)}/paint`, {
        method: "POST", headers: { "content-type": "application/json" }, body,
      });
      if (!reply.ok) {
        const answer = await reply.json().catch(() => null);
        status.textContent = answer?.fields ? Object.values(answer.fields).join("; ")
          : answer?.error ?? `the server answered ${reply.status}`;
        fast.shown = "";
        return;
      }
      const url = await asDataUrl(await reply.blob());
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      byId("fast-picture").src = url;
      byId("fast-download").href = url;
      byId("fast-card").hidden = false;
      status.textContent = `${model.id}: painted in ${seconds} s`;
    } catch (e) {
      status.textContent = `the server did not answer: ${e}`;
      fast.shown = "";
    } finally {
      fast.busy = false;
      if (fast.again) { fast.again = false; paint(); }
    }
  }

  async function init() {
    build();
    const reply = await fetch("/api/models");
    const answer = reply.ok ? await reply.json() : { models: [] };
    fast.models = answer.models;
    const select = byId("fast-model");
    for (const model of fast.models) {
      const option = document.createElement("option");
      option.value = model.id;
      option.textContent = `${model.id.replace(/\.safetensors$/, "")} (${model.styles.join(", ")})`;
      select.append(option);
    }
    byId("fast-status").textContent = fast.models.length
      ? "Pick a model: the chosen photo is painted at once."
      : "No fast models here: train one with painterly train, put it in the models folder.";
    select.addEventListener("change", () => { renderWeights(); paint(); });
    // A photo chosen by a click, or by an upload (the list is drawn again then).
    byId("photos").addEventListener("change", paint);
    new MutationObserver(paint).observe(byId("photos"), { childList: true });
    for (const id of ["size", "preserve_colors", "strength"]) byId(id).addEventListener("change", paint);
  }

  init();
})();
