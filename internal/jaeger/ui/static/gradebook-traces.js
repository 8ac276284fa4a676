// gradebook's minimal trace view: a search page and a timeline of one trace, drawn from Jaeger's
// own query API (api/services, api/traces, api/traces/{id}) and nothing else. Every piece of data
// reaches the page as text (textContent, setAttribute), never as markup.
"use strict";

(function () {
  // Jaeger rewrites <base href="/"> to its base_path, so every URL is taken relative to it.
  const base = new URL(document.baseURI);
  const main = document.getElementById("main");
  const palette = ["#2f6fb0", "#475569", "#15803d", "#7e22ce", "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#c2410c", "#4338ca"];

  function at(path) {
    return new URL(path, base).toString();
  }

  // el builds an element: attrs are set as attributes (or as properties for className), children
  // are nodes or strings, and strings always become text.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "className") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function show(...nodes) {
    main.replaceChildren(...nodes);
  }

  function problem(title, ...detail) {
    return el("section", { className: "problem", role: "alert" }, el("h1", null, title), detail.map((d) => el("p", null, d)));
  }

  function colour(service) {
    let h = 0;
    for (const ch of service) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return palette[h % palette.length];
  }

  function serviceChip(service) {
    const s = el("span", { className: "svc" }, service);
    s.style.setProperty("--c", colour(service));
    return s;
  }

  // ms formats a duration given in microseconds, as Jaeger gives them.
  function ms(us) {
    const v = us / 1000;
    return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + " ms";
  }

  function when(us) {
    const d = new Date(us / 1000);
    const p = (n, w) => String(n).padStart(w || 2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function text(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  class APIError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function api(path) {
    let resp;
    try {
      resp = await fetch(at(path), { headers: { Accept: "application/json" } });
    } catch (e) {
      throw new APIError("Jaeger's query API did not answer: " + e.message, 0);
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    if (!resp.ok) {
      const errs = body && Array.isArray(body.errors) ? body.errors.map((e) => e.msg).filter(Boolean) : [];
      throw new APIError(errs.length ? errs.join("; ") : `${resp.status} ${resp.statusText}`, resp.status);
    }
    if (!body || typeof body !== "object") throw new APIError("Jaeger's query API answered with something other than JSON", resp.status);
    return body;
  }

  // model turns one trace of api/traces into spans in timeline order: each parent before its
  // children, children by start time, with their depth. A span whose parent is not in the trace
  // (the caller's, outside the system) is a root.
  function model(trace) {
    const procs = trace.processes || {};
    const spans = (trace.spans || []).map((s) => {
      const proc = procs[s.processID] || {};
      const tags = Array.isArray(s.tags) ? s.tags : [];
      const tag = (k) => (tags.find((t) => t.key === k) || {}).value;
      const parentRef = (s.references || []).find((r) => r.refType === "CHILD_OF") || (s.references || [])[0];
      return {
        id: s.spanID,
        parent: parentRef ? parentRef.spanID : "",
        service: proc.serviceName || "unknown",
        processTags: Array.isArray(proc.tags) ? proc.tags : [],
        op: s.operationName || "",
        start: Number(s.startTime) || 0,
        dur: Number(s.duration) || 0,
        tags: tags,
        logs: Array.isArray(s.logs) ? s.logs : [],
        kind: tag("span.kind") || "",
        error: tag("error") === true || tag("error") === "true",
        children: [],
        depth: 0,
      };
    });
    const byID = new Map(spans.map((s) => [s.id, s]));
    const roots = [];
    for (const s of spans) {
      const p = s.parent && s.parent !== s.id ? byID.get(s.parent) : undefined;
      if (p) p.children.push(s);
      else roots.push(s);
    }
    const byStart = (a, b) => a.start - b.start || a.depth - b.depth;
    const order = [];
    const seen = new Set();
    const walk = (list, depth) => {
      for (const s of list.slice().sort(byStart)) {
        if (seen.has(s.id)) continue;
        seen.add(s.id);
        s.depth = depth;
        order.push(s);
        walk(s.children, depth + 1);
      }
    };
    walk(roots, 0);
    walk(spans, 0); // spans caught in a reference cycle, if any, at the top level
    let start = Infinity;
    let end = -Infinity;
    for (const s of spans) {
      start = Math.min(start, s.start);
      end = Math.max(end, s.start + s.dur);
    }
    if (!spans.length) start = end = 0;
    const services = [];
    for (const s of order) if (!services.includes(s.service)) services.push(s.service);
    return { id: trace.traceID || "", spans: order, start, total: end - start, services, root: order[0], errors: spans.filter((s) => s.error).length };
  }

  // selfTime is the part of a span's duration that none of its children covers: where the time
  // went inside this hop rather than below it.
  function selfTime(s) {
    const lo = s.start;
    const hi = s.start + s.dur;
    const iv = s.children.map((c) => [Math.max(lo, c.start), Math.min(hi, c.start + c.dur)]).filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let end = lo;
    for (const [a, b] of iv) {
      if (b <= end) continue;
      covered += b - Math.max(a, end);
      end = b;
    }
    return Math.max(0, s.dur - covered);
  }

  function fillServices(services, chosen) {
    const sel = document.getElementById("service");
    sel.replaceChildren(...services.map((name) => el("option", { value: name, selected: name === chosen }, name)));
  }

  function choose(selectID, value) {
    const sel = document.getElementById(selectID);
    if (value && Array.from(sel.options).some((o) => (o.value || o.text) === value)) sel.value = value;
    return sel.value;
  }

  const traceIDPattern = /^[0-9a-f]{1,32}$/i;
  const traceWait = 20000; // how long a trace that is not there yet is looked for, in ms
  const traceRetry = 2000;

  // ---- one trace: the timeline ----

  async function showTrace(id) {
    document.title = "Trace " + id + " · gradebook";
    const services = api("api/services").then((b) => fillServices((b.data || []).slice().sort(), "")).catch(() => {});
    if (!traceIDPattern.test(id)) {
      show(problem("Not a trace ID", `"${id}" is not a trace ID: a trace ID is 32 hexadecimal digits.`));
      return;
    }
    // Spans reach Jaeger in batches, seconds after the request (5 s apart by default), so a trace
    // opened from a fresh log line may not be there yet: the page looks again for a while.
    const giveUp = Date.now() + traceWait;
    let body;
    for (;;) {
      try {
        body = await api("api/traces/" + encodeURIComponent(id));
        break;
      } catch (e) {
        if (e.status !== 404) {
          show(problem("Could not load the trace", `Jaeger's query API, asked for trace ${id}: ${e.message}`));
          return;
        }
        if (Date.now() >= giveUp) {
          show(problem("Trace not found", `Jaeger has no trace ${id}.`,
            "Jaeger keeps traces in memory only: a restarted Jaeger has forgotten older ones, and the oldest are dropped when it is full. A trace that was not sampled never reaches it."));
          return;
        }
        show(el("section", { className: "waiting", role: "status" }, el("h1", null, "Waiting for the trace"),
          el("p", null, `Jaeger has no trace ${id} yet. Spans reach it in batches, a few seconds after the request: looking again every ${traceRetry / 1000} seconds.`)));
        await new Promise((resolve) => setTimeout(resolve, traceRetry));
      }
    }
    const traces = (body.data || []).map(model).filter((t) => t.spans.length);
    if (!traces.length) {
      show(problem("Trace not found", `Jaeger has no spans for trace ${id}.`));
      return;
    }
    const t = traces[0];
    document.title = `${t.root.service}: ${t.root.op} · trace ${t.id}`;
    await services;
    choose("service", t.root.service);
    show(traceHeader(t), waterfall(t));
  }

  function traceHeader(t) {
    const facts = [
      ["Trace ID", el("code", { className: "trace-id" }, t.id)],
      ["Started", when(t.start)],
      ["Duration", ms(t.total)],
      ["Spans", String(t.spans.length) + (t.errors ? ` (${t.errors} with ${t.errors === 1 ? "an error" : "errors"})` : "")],
      ["Services", el("span", { className: "chips" }, t.services.map(serviceChip))],
      ["Depth", String(1 + Math.max(...t.spans.map((s) => s.depth)))],
    ];
    return el("section", { className: "trace-head" },
      el("h1", null, serviceChip(t.root.service), " ", t.root.op),
      el("dl", null, facts.map(([k, v]) => el("div", null, el("dt", null, k), el("dd", null, v)))),
      el("p", { className: "note" }, "One row per span, below its parent; each bar is placed at the span's start and is as wide as it lasted. Click a row for its attributes and events. ",
        el("a", { href: at("api/traces/" + t.id + "?prettyPrint=true") }, "The trace as JSON"), "."),
      // Each service sends its spans on its own schedule: a fresh trace may still be missing some.
      Date.now() * 1000 - (t.start + t.total) < 15e6 ? el("p", { className: "note fresh" }, "This trace ended seconds ago: spans that other services have not sent yet appear when you reload.") : null);
  }

  function waterfall(t) {
    const total = t.total || 1;
    const ticks = el("div", { className: "wf-track wf-ticks" });
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el("span", { className: "tick" }, ms(t.total * f));
      tick.style.left = f * 100 + "%";
      if (f === 1) tick.classList.add("last");
      ticks.append(tick);
    }
    const table = el("div", { className: "waterfall", role: "list" },
      el("div", { className: "wf-head" }, el("div", { className: "wf-name" }, "Service and operation"), ticks));
    for (const s of t.spans) {
      const left = ((s.start - t.start) / total) * 100;
      const width = (s.dur / total) * 100;
      const bar = el("span", { className: "bar", title: `${s.op}: ${ms(s.dur)} from +${ms(s.start - t.start)}` });
      bar.style.left = left + "%";
      bar.style.width = width + "%";
      bar.style.setProperty("--c", colour(s.service));
      const dur = el("span", { className: "dur" }, ms(s.dur));
      if (left + width > 70) {
        dur.classList.add("before");
        dur.style.right = 100 - left + "%";
      } else dur.style.left = left + width + "%";
      const name = el("div", { className: "wf-name" }, serviceChip(s.service), " ", el("span", { className: "op" }, s.op),
        s.error ? el("span", { className: "err" }, "error") : null);
      name.style.paddingLeft = 0.5 + s.depth * 1.1 + "rem";
      const row = el("div", { className: "span-row" + (s.error ? " error" : ""), role: "button", tabindex: "0", "aria-expanded": "false", "data-span-id": s.id, "data-depth": s.depth },
        name, el("div", { className: "wf-track" }, bar, dur));
      // A span's details are built when first shown: a trace may have thousands of spans.
      const detail = el("div", { className: "span-detail" });
      detail.hidden = true;
      const toggle = () => {
        if (!detail.hasChildNodes()) detail.append(...spanDetail(s, t));
        detail.hidden = !detail.hidden;
        row.setAttribute("aria-expanded", String(!detail.hidden));
        row.classList.toggle("open", !detail.hidden);
      };
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          toggle();
        }
      });
      table.append(el("div", { className: "span", role: "listitem" }, row, detail));
    }
    return table;
  }

  function kvTable(caption, pairs) {
    if (!pairs.length) return null;
    return el("table", { className: "kv" }, el("caption", null, caption),
      el("tbody", null, pairs.map(([k, v]) => el("tr", null, el("th", { scope: "row" }, k), el("td", null, v)))));
  }

  function spanDetail(s, t) {
    const facts = [
      ["span ID", s.id],
      ["parent", s.parent || "none"],
      ["kind", s.kind || "unset"],
      ["starts at", "+" + ms(s.start - t.start)],
      ["duration", ms(s.dur)],
      ["self time (in no child span)", ms(selfTime(s))],
    ];
    const tags = s.tags.map((tag) => [tag.key, text(tag.value)]);
    const proc = s.processTags.map((tag) => [tag.key, text(tag.value)]);
    const events = s.logs.map((l) => {
      const fields = Array.isArray(l.fields) ? l.fields : [];
      const name = fields.find((f) => f.key === "event");
      return el("li", null, el("span", { className: "at" }, "+" + ms(Number(l.timestamp) - s.start)), " ",
        el("strong", null, name ? text(name.value) : "event"), " ",
        fields.filter((f) => f !== name).map((f) => el("span", { className: "field" }, `${f.key}=${text(f.value)}`)));
    });
    return [
      kvTable("Span", facts),
      kvTable("Attributes", tags),
      kvTable(`Process (${s.service})`, proc),
      events.length ? el("div", { className: "events" }, el("h3", null, "Events"), el("ol", null, events)) : el("p", { className: "note" }, "No events."),
    ].filter(Boolean);
  }

  // ---- search: recent traces of one service ----

  async function showSearch(params) {
    document.title = "Traces · gradebook";
    const wanted = params.get("trace");
    if (wanted !== null) {
      const id = wanted.trim().toLowerCase();
      if (traceIDPattern.test(id)) {
        location.replace(at("trace/" + id));
        return;
      }
      show(problem("Not a trace ID", `"${wanted}" is not a trace ID: a trace ID is 32 hexadecimal digits.`));
      return;
    }
    let services;
    try {
      services = ((await api("api/services")).data || []).slice().sort();
    } catch (e) {
      show(problem("Could not list the services", "Jaeger's query API: " + e.message));
      return;
    }
    if (!services.length) {
      show(problem("No traces yet", "No service has sent Jaeger a span yet. Point a service at Jaeger's OTLP receivers (OTEL_EXPORTER_OTLP_ENDPOINT), send it a request, and reload."));
      return;
    }
    const service = services.includes(params.get("service")) ? params.get("service") : services[0];
    fillServices(services, service);
    const lookback = choose("lookback", params.get("lookback"));
    const limit = choose("limit", params.get("limit"));
    const q = new URLSearchParams({ service, limit, lookback });
    let body;
    try {
      body = await api("api/traces?" + q.toString());
    } catch (e) {
      show(problem("Could not find traces", `Jaeger's query API, asked for the traces of ${service}: ${e.message}`));
      return;
    }
    const traces = (body.data || []).map(model).filter((t) => t.spans.length).sort((a, b) => b.start - a.start);
    const heading = el("h1", null, "Recent traces of ", serviceChip(service));
    if (!traces.length) {
      show(heading, el("p", { className: "note" }, `Jaeger has no trace of ${service} in the chosen time: send it a request, or look further back.`));
      return;
    }
    const longest = Math.max(...traces.map((t) => t.total)) || 1;
    const rows = traces.map((t) => {
      const bar = el("span", { className: "bar" });
      bar.style.width = (t.total / longest) * 100 + "%";
      bar.style.setProperty("--c", colour(t.root.service));
      return el("tr", { className: t.errors ? "error" : null },
        el("td", null, el("a", { className: "trace-link", href: at("trace/" + t.id) }, serviceChip(t.root.service), " ", t.root.op)),
        el("td", { className: "num" }, when(t.start)),
        el("td", { className: "num dur-cell" }, el("span", { className: "mini" }, bar), " ", ms(t.total)),
        el("td", { className: "num" }, String(t.spans.length) + (t.errors ? ` (${t.errors} with ${t.errors === 1 ? "an error" : "errors"})` : "")),
        el("td", null, el("span", { className: "chips" }, t.services.map(serviceChip))),
        el("td", null, el("code", null, t.id)));
    });
    show(heading,
      el("p", { className: "note" }, `${traces.length} trace${traces.length === 1 ? "" : "s"}, newest first. Open one to see where its time went, hop by hop.`),
      el("table", { className: "traces" },
        el("thead", null, el("tr", null, ["Root span", "Started", "Duration", "Spans", "Services", "Trace ID"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", null, rows)));
  }

  function route() {
    const path = location.pathname.startsWith(base.pathname) ? location.pathname.slice(base.pathname.length) : location.pathname.replace(/^\/+/, "");
    const m = /^trace\/([^/]*)\/?$/.exec(path);
    const params = new URLSearchParams(location.search);
    choose("lookback", params.get("lookback"));
    choose("limit", params.get("limit"));
    let id = m ? m[1] : "";
    try {
      id = decodeURIComponent(id);
    } catch (e) {
      // not percent-encoded after all: shown as it is, and refused as a trace ID
    }
    const run = m ? showTrace(id) : showSearch(params);
    run.catch((e) => show(problem("Something went wrong", String(e && e.message ? e.message : e))));
  }

  route();
})();
