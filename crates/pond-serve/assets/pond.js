// pond's pages: charts (uPlot) that ask for a resolution fitting their width, and the
// SQL console. Served pages ask the server; a static site's pages read the levels
// written beside them.
(function () {
  "use strict";
  const COLORS = ["#1a5fa8", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"];
  const isStatic = document.body.dataset.mode === "static";

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function getJson(url) {
    const r = await fetch(url);
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  // ---- charts ----------------------------------------------------------------------

  function setupChart(box) {
    const main = box.parentElement;
    const controls = main.querySelector(".chart-controls");
    const urls = box.dataset.url.split("|");
    const state = { start: null, end: null, columns: null, range: null, levels: null };
    const shown = (sel) => controls && controls.querySelector(sel);

    function setText(sel, text) { const e = shown(sel); if (e) e.textContent = text; }

    async function fetchServer(url) {
      const q = new URLSearchParams();
      q.set("width", String(Math.max(100, Math.floor(box.clientWidth || 800))));
      if (state.start !== null) q.set("start", String(Math.floor(state.start)));
      if (state.end !== null) q.set("end", String(Math.ceil(state.end)));
      if (state.columns) q.set("columns", state.columns.join(","));
      return getJson(url + (url.includes("?") ? "&" : "?") + q.toString());
    }

    // A static site's level for the window: the finest whose points in it fit.
    async function fetchStatic(url) {
      if (!state.levels) state.levels = (await getJson(url)).levels;
      const width = Math.max(100, box.clientWidth || 800);
      const lo = state.start === null ? -Infinity : state.start / 1e6;
      const hi = state.end === null ? Infinity : state.end / 1e6;
      for (const level of state.levels) {
        const n = level.t.filter((t) => t >= lo && t < hi).length;
        if (n <= 2 * width || level === state.levels[state.levels.length - 1]) {
          return Object.assign({}, level, { start: state.start ?? level.start, end: state.end ?? level.end });
        }
      }
    }

    async function load() {
      setText(".resolution", "…");
      let parts;
      try {
        parts = await Promise.all(urls.map((u) => (isStatic ? fetchStatic(u) : fetchServer(u))));
      } catch (e) {
        box.textContent = "";
        box.appendChild(el("p", { class: "error" }, String(e.message || e)));
        box.dataset.error = String(e.message || e);
        return;
      }
      draw(parts);
    }

    function columnChooser(available) {
      const holder = shown(".columns");
      if (!holder || holder.dataset.ready || urls.length > 1) return;
      holder.dataset.ready = "1";
      available.forEach((c) => {
        const box = el("input", { type: "checkbox", value: c });
        box.checked = !state.columns || state.columns.includes(c);
        box.addEventListener("change", () => {
          state.columns = Array.from(holder.querySelectorAll("input:checked")).map((i) => i.value);
          load();
        });
        const label = el("label");
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + c));
        holder.appendChild(label);
      });
    }

    function draw(parts) {
      const first = parts[0];
      state.range = first.range;
      columnChooser(first.available);
      const datasets = parts.map((p) => [p.t].concat(p.values));
      const data = datasets.length === 1 ? datasets[0] : uPlot.join(datasets);
      const series = [{}];
      parts.forEach((p) => p.columns.forEach((c) => {
        const label = parts.length > 1 ? p.path + " " + c : c;
        series.push({ label, stroke: COLORS[(series.length - 1) % COLORS.length], spanGaps: true, width: 1 });
      }));
      const width = Math.max(300, Math.floor(box.clientWidth || 800));
      const opts = {
        width,
        height: 320,
        series,
        scales: { x: { time: true, min: first.start / 1e6, max: first.end / 1e6 } },
        cursor: { drag: { x: true, y: false, setScale: false } },
        hooks: {
          setSelect: [(u) => {
            if (u.select.width < 2) return;
            state.start = u.posToVal(u.select.left, "x") * 1e6;
            state.end = u.posToVal(u.select.left + u.select.width, "x") * 1e6;
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            load();
          }],
        },
      };
      if (box._uplot) box._uplot.destroy();
      box.textContent = "";
      box._uplot = new uPlot(opts, data, box);
      const resolution = parts.map((p) => p.resolution).join(", ");
      box.dataset.points = String(data[0].length);
      box.dataset.resolution = resolution;
      box.dataset.loads = String(Number(box.dataset.loads || 0) + 1);
      setText(".resolution", resolution);
      setText(".points", String(data[0].length));
    }

    function pan(direction) {
      const start = state.start ?? (state.range ? state.range[0] : 0);
      const end = state.end ?? (state.range ? state.range[1] : 0);
      const step = (end - start) / 2;
      state.start = start + direction * step;
      state.end = end + direction * step;
      load();
    }

    if (controls) {
      const out = controls.querySelector(".zoom-out");
      if (out) out.addEventListener("click", () => { state.start = null; state.end = null; load(); });
      const left = controls.querySelector(".pan-left");
      if (left) left.addEventListener("click", () => pan(-1));
      const right = controls.querySelector(".pan-right");
      if (right) right.addEventListener("click", () => pan(1));
    }
    load();
  }

  document.querySelectorAll("div.chart").forEach(setupChart);

  // ---- the SQL console ---------------------------------------------------------------

  const form = document.querySelector("form.console");
  if (form) {
    const text = form.querySelector("textarea");
    const status = document.querySelector("p.status");
    const result = document.querySelector("div.result");
    const links = () => form.querySelectorAll("a.download").forEach((a) => {
      a.href = "/api/query?format=" + a.dataset.format + "&sql=" + encodeURIComponent(text.value);
    });
    text.addEventListener("input", links);
    links();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "running…";
      status.className = "status";
      result.textContent = "";
      history.replaceState(null, "", "/sql?sql=" + encodeURIComponent(text.value));
      try {
        const answer = await getJson("/api/query?sql=" + encodeURIComponent(text.value));
        const table = el("table", { class: "rows" });
        const head = el("tr");
        answer.columns.forEach((c) => head.appendChild(el("th", {}, c)));
        table.appendChild(el("thead")).appendChild(head);
        const body = table.appendChild(el("tbody"));
        answer.rows.forEach((row) => {
          const tr = el("tr");
          row.forEach((v) => tr.appendChild(v === null ? el("td", { class: "null" }, "NULL") : el("td", {}, v)));
          body.appendChild(tr);
        });
        result.appendChild(table);
        status.textContent = answer.rows.length + " rows" + (answer.truncated ? " (more left out)" : "") +
          " in " + answer.elapsed_ms + " ms";
        status.dataset.rows = String(answer.rows.length);
      } catch (e) {
        status.textContent = String(e.message || e);
        status.className = "status error";
      }
    });
    if (text.value.trim()) form.requestSubmit();
  }
})();
