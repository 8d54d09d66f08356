// judge view: the page. Plain JavaScript, no build step.
//
// Everything that comes from a run (prompts, responses, rationales, ids, rubric names, error
// messages, extra columns) is put into the page as text: text nodes and textContent, never
// innerHTML, never an attribute that the browser interprets (href, src, on*, style).
// Links are built from row numbers only.
"use strict";

(function () {
  const PAGE = 50;
  const bundle = window.JUDGE_BUNDLE || null;
  const token = new URLSearchParams(location.search).get("token");
  let meta = null;

  // ---- data: the server's API, or the static bundle's files ----------------------------------
  async function api(path, params) {
    if (bundle) return bundleApi(path, params || {});
    const query = new URLSearchParams(params || {});
    const headers = token ? { "X-Judge-Token": token } : {};
    const response = await fetch("api/" + path + "?" + query.toString(), { headers });
    const payload = await response.json();
    if (!response.ok) throw new Error(payload.error || response.statusText);
    return payload;
  }

  async function postLabel(body) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers["X-Judge-Token"] = token;
    const response = await fetch("api/label", {
      method: "POST", headers, body: JSON.stringify(body),
    });
    const payload = await response.json();
    if (!response.ok) throw new Error(payload.error || response.statusText);
    return payload;
  }

  // The bundle holds each run's index rows and records; queries run here, on that copy.
  function bundleApi(path, params) {
    const run = bundle.runs[Number(params.run || 0)];
    if (path === "meta") return bundle.meta;
    if (path === "plots") return run.plots;
    if (path === "compare") return bundle.compare;
    if (path === "sample") {
      const i = Number(params.i);
      const found = { i, total: run.rows.length, record: run.records[i], label: null,
        rubric: run.rubrics[i] };
      const other = bundle.runs.length === 2 ? bundle.runs[1 - Number(params.run || 0)] : null;
      if (other) {
        const j = other.rows.findIndex((row) => row.id === run.rows[i].id);
        if (j >= 0) found.other = { i: j, record: other.records[j] };
      }
      return found;
    }
    let rows = run.rows.filter((row) => matches(row, params));
    const sort = params.sort || "i";
    const sign = params.order === "desc" ? -1 : 1;
    rows = rows.slice().sort((x, y) => {
      const a = x[sort], b = y[sort];
      if (a === b) return x.i - y.i;
      if (a === null) return 1;
      if (b === null) return -1;
      return (a < b ? -1 : 1) * sign;
    });
    const offset = Number(params.offset || 0);
    return { total: rows.length, offset, rows: rows.slice(offset, offset + PAGE) };
  }

  function matches(row, params) {
    if (params.q && !row.text.includes(params.q.toLowerCase())) return false;
    for (const name of ["kind", "error_kind", "strategy", "route", "rubric", "reasoning",
      "winner", "label"]) {
      const want = params[name];
      if (!want) continue;
      if (name === "error_kind" && want === "any") { if (row[name] === null) return false; continue; }
      if (want === "none") { if (row[name] !== null) return false; continue; }
      if (row[name] !== want) return false;
    }
    for (const name of ["capped", "flip"]) {
      const want = params[name];
      if (want === "yes" && row[name] !== true) return false;
      if (want === "no" && row[name] !== false) return false;
    }
    const bounds = [["score_min", "score", 1], ["score_max", "score", -1],
      ["confidence_min", "confidence", 1], ["confidence_max", "confidence", -1]];
    for (const [param, column, sign] of bounds) {
      if (params[param] === undefined || params[param] === "") continue;
      const value = row[column];
      if (value === null || (value - Number(params[param])) * sign < 0) return false;
    }
    return true;
  }

  // ---- DOM helpers: text only ----------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (name === "class") node.className = value;
      else if (name === "field") node.dataset.field = value;
      else if (name === "onclick") node.addEventListener("click", value);
      else if (name === "onchange") node.addEventListener("change", value);
      else if (name === "oninput") node.addEventListener("input", value);
      else node[name] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A block of judged text: kept as text, its direction isolated (see view.css .data).
  function dataText(field, value, tag) {
    const node = el(tag || "div", { class: "data", field, dir: "auto" });
    node.textContent = value === null || value === undefined ? "" : String(value);
    return node;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") return value.toFixed(digits === undefined ? 3 : digits);
    return String(value);
  }

  function asText(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function parseJson(value) {
    if (typeof value !== "string") return value;
    try { return JSON.parse(value); } catch (error) { return value; }
  }

  function main() { return document.getElementById("main"); }

  function showError(error) {
    main().replaceChildren(el("p", { class: "error" }, "error: ", asText(error.message)));
  }

  function route() {
    const hash = location.hash.replace(/^#\/?/, "");
    const [page, query] = hash.split("?");
    return { page: page || "list", params: Object.fromEntries(new URLSearchParams(query || "")) };
  }

  function go(page, params) {
    location.hash = "#/" + page + "?" + new URLSearchParams(params).toString();
  }

  // ---- the list --------------------------------------------------------------------------------
  const FACET_NAMES = {
    kind: "kind", error_kind: "failure", strategy: "strategy", route: "route", rubric: "rubric",
    reasoning: "reasoning", winner: "winner", label: "gold label",
  };

  function select(name, label, options, current, onChange) {
    const node = el("select", { name, field: "filter-" + name, onchange: onChange });
    for (const [value, text] of options) {
      const option = el("option", {}, text);
      option.value = value;
      if (value === (current || "")) option.selected = true;
      node.append(option);
    }
    return el("label", {}, label + " ", node);
  }

  async function listPage(params) {
    const runIndex = Number(params.run || 0);
    const run = meta.runs[runIndex];
    const form = el("form", { class: "filters", id: "filters" });
    const update = () => {
      const data = new FormData(form);
      const next = { run: runIndex };
      for (const [name, value] of data.entries()) if (value !== "") next[name] = value;
      go("list", next);
    };
    form.addEventListener("submit", (event) => { event.preventDefault(); update(); });
    const search = el("input", { type: "search", name: "q", placeholder: "search text",
      field: "filter-q" });
    search.value = params.q || "";
    form.append(el("label", {}, "text ", search));
    for (const [name, label] of Object.entries(FACET_NAMES)) {
      const values = run.facets[name] || [];
      if (!values.length && name !== "error_kind") continue;
      const options = [["", "all"]];
      if (name === "error_kind") options.push(["any", "any failure"], ["none", "no failure"]);
      for (const [value, count] of values) options.push([value, value + " (" + count + ")"]);
      form.append(select(name, label, options, params[name], update));
    }
    const yesNo = [["", "all"], ["yes", "yes"], ["no", "no"]];
    form.append(select("capped", "capped", yesNo, params.capped, update));
    if (run.facets.flip) form.append(select("flip", "order flip", yesNo, params.flip, update));
    if (!bundle) form.append(select("labelled", "labelled", yesNo, params.labelled, update));
    for (const [name, label] of [["score_min", "score ≥"], ["score_max", "score ≤"],
      ["confidence_min", "confidence ≥"]]) {
      const input = el("input", { type: "number", name, step: "0.05", min: "0", max: "1",
        field: "filter-" + name, onchange: update });
      input.value = params[name] || "";
      form.append(el("label", {}, label + " ", input));
    }
    form.append(select("sort", "sort by", [["i", "file order"], ["score", "score"],
      ["confidence", "confidence"], ["id", "id"]], params.sort, update));
    form.append(select("order", "", [["asc", "ascending"], ["desc", "descending"]],
      params.order, update));
    form.append(el("button", { type: "submit", field: "apply" }, "apply"));

    const offset = Number(params.offset || 0);
    const page = await api("rows", { ...params, run: runIndex, offset, limit: PAGE });
    const table = el("table", { class: "rows", field: "rows" });
    table.append(el("thead", {}, el("tr", {}, ...["#", "id", "score", "confidence", "failure",
      "capped", "strategy / route", "rubric", "reasoning", "label"].map((h) => el("th", {}, h)))));
    const body = el("tbody");
    for (const row of page.rows) {
      const link = el("a", { href: "#/sample?run=" + runIndex + "&i=" + Number(row.i) },
        String(Number(row.i) + 1));
      const score = row.kind === "pairwise"
        ? "P(A) " + fmt(row.score) + (row.winner ? " → " + row.winner : "") : fmt(row.score);
      body.append(el("tr", { class: row.error_kind ? "failed" : "" },
        el("td", {}, link),
        el("td", {}, dataText("id", row.id, "span")),
        el("td", { class: "num" }, score),
        el("td", { class: "num" }, fmt(row.confidence)),
        el("td", {}, dataText("error_kind", row.error_kind || "", "span")),
        el("td", {}, row.capped ? "capped" : ""),
        el("td", {}, dataText("strategy", [row.strategy, row.route].filter(Boolean).join(" / "),
          "span")),
        el("td", {}, dataText("rubric", row.rubric || "", "span")),
        el("td", {}, dataText("reasoning", row.reasoning || "", "span")),
        el("td", {}, row.labelled ? "✓" : "")));
    }
    table.append(body);
    const pager = el("div", { class: "pager" },
      el("button", { type: "button", field: "prev", disabled: offset === 0,
        onclick: () => go("list", { ...params, offset: Math.max(0, offset - PAGE) }) }, "‹ prev"),
      el("span", { field: "count" }, page.total ? (offset + 1) + "–" +
        Math.min(offset + PAGE, page.total) + " of " + page.total : "no judgments match"),
      el("button", { type: "button", field: "next", disabled: offset + PAGE >= page.total,
        onclick: () => go("list", { ...params, offset: offset + PAGE }) }, "next ›"));
    main().replaceChildren(form, pager, table);
  }

  // ---- one sample ------------------------------------------------------------------------------
  const SHOWN = new Set(["row", "id", "sample_id", "pair_id", "prompt", "messages", "response",
    "response_a", "response_b", "reference", "verdicts", "score", "confidence", "details",
    "input_id"]);

  function section(title, ...children) {
    return el("section", {}, el("h2", {}, title), ...children);
  }

  function keyValues(pairs, field) {
    const table = el("table", { class: "kv", field });
    for (const [key, value] of pairs) {
      table.append(el("tr", {}, el("th", {}, dataText("key", key, "span")),
        el("td", {}, dataText(field + ":" + key, asText(value)))));
    }
    return table;
  }

  function conversation(record) {
    const parts = [];
    const messages = parseJson(record.messages);
    if (Array.isArray(messages) && messages.length) {
      for (const [index, message] of messages.entries()) {
        parts.push(el("div", { class: "message" },
          el("span", { class: "role" }, dataText("role", asText(message && message.role), "span")),
          dataText("messages." + index, asText(message && message.content))));
      }
    } else {
      parts.push(el("h3", {}, "prompt"), dataText("prompt", record.prompt));
    }
    if (record.response_a !== undefined || record.response_b !== undefined) {
      parts.push(el("div", { class: "pair" },
        el("div", {}, el("h3", {}, "response A"), dataText("response_a", record.response_a)),
        el("div", {}, el("h3", {}, "response B"), dataText("response_b", record.response_b))));
    } else {
      parts.push(el("h3", {}, "response"), dataText("response", record.response));
    }
    if (record.reference !== undefined && record.reference !== null) {
      parts.push(el("h3", {}, "reference"), dataText("reference", record.reference));
    }
    return section("conversation", ...parts);
  }

  function criteriaTable(record, rubric, label, onCriterion) {
    const verdicts = Array.isArray(record.verdicts) ? record.verdicts : [];
    const table = el("table", { class: "criteria", field: "criteria" });
    table.append(el("thead", {}, el("tr", {}, ...["criterion", "kind", "weight", "verdict",
      "P(yes)", "rationale", "your label"].map((h) => el("th", {}, h)))));
    const body = el("tbody");
    for (const verdict of verdicts) {
      const id = asText(verdict.criterion_id);
      const known = rubric && rubric[id];
      const p = typeof verdict.p_yes === "number" ? verdict.p_yes : null;
      const bar = el("span", { class: "pbar" });
      bar.style.width = (p === null ? 0 : Math.round(p * 100)) + "%";
      const current = label && label.criteria ? label.criteria[id] : undefined;
      const buttons = el("span", { class: "buttons" },
        el("button", { type: "button", class: current === true ? "on" : "",
          field: "criterion-right", onclick: () => onCriterion(id, true) }, "right"),
        el("button", { type: "button", class: current === false ? "on" : "",
          field: "criterion-wrong", onclick: () => onCriterion(id, false) }, "wrong"));
      body.append(el("tr", { class: verdict.error ? "failed" : "" },
        el("td", {}, dataText("criterion_id", id, "span"),
          known ? dataText("criterion_text", known.text) : null),
        el("td", {}, known ? dataText("criterion_kind", known.kind, "span") : "?"),
        el("td", { class: "num" }, known ? fmt(known.weight, 2) : "?"),
        el("td", {}, dataText("verdict", asText(verdict.verdict), "span"),
          verdict.error ? dataText("verdict_error", verdict.error) : null),
        el("td", { class: "num" }, fmt(p), el("span", { class: "track" }, bar)),
        el("td", {}, dataText("rationale", verdict.rationale)),
        el("td", {}, buttons)));
    }
    table.append(body);
    return table;
  }

  function scoreExplanation(record, rubric) {
    const lines = [];
    const verdicts = Array.isArray(record.verdicts) ? record.verdicts : [];
    const capped = Array.isArray(record.capped_by) ? record.capped_by : [];
    if (record.error) {
      lines.push(el("p", { class: "error" }, "failed (", dataText("error_kind",
        record.error_kind, "span"), "): ", dataText("error", record.error, "span"),
        " — no score, by design."));
    }
    if (rubric && verdicts.length) {
      let total = 0, weights = 0;
      for (const verdict of verdicts) {
        const known = rubric[verdict.criterion_id];
        if (!known || typeof verdict.p_yes !== "number") continue;
        total += known.weight * verdict.p_yes;
        weights += known.weight;
      }
      if (weights > 0) {
        lines.push(el("p", {}, "weighted mean of P(yes) over the criteria: " +
          fmt(total / weights) + "; the score is " + fmt(record.score) + "."));
      }
    } else if (verdicts.length) {
      lines.push(el("p", { class: "muted" },
        "the rubric's weights are unknown here (not a library rubric of this fingerprint)."));
    }
    if (capped.length) {
      lines.push(el("p", {}, "capped by the hard rule(s): ",
        dataText("capped_by", capped.join(", "), "span")));
    }
    return lines;
  }

  function pairwiseBlock(record) {
    const flip = record.winner_ab !== null && record.winner_ab !== undefined &&
      record.winner_ba !== null && record.winner_ba !== undefined
      ? record.winner_ab !== record.winner_ba : (record.consistent === false ? true : null);
    return section("both orders", keyValues([
      ["P(A better), A shown first", fmt(record.p_a_ab)],
      ["P(A better), B shown first", fmt(record.p_a_ba)],
      ["winner, A first", record.winner_ab], ["winner, B first", record.winner_ba],
      ["flip between orders", flip === null ? "–" : (flip ? "yes" : "no")],
      ["P(A better)", fmt(record.p_a)], ["winner", record.winner],
      ["margin (rubric, A over B)", fmt(record.margin)],
      ["confidence", fmt(record.confidence)],
    ], "pairwise"));
  }

  // A flip needs a verdict on both sides; a criterion only one run has is not one.
  function flipText(mine, theirs) {
    if (mine === undefined || mine === null || theirs === undefined || theirs === null) {
      return "in one run only";
    }
    return mine !== theirs ? "flip" : "";
  }

  function otherRun(record, other) {
    const mine = new Map((record.verdicts || []).map((v) => [v.criterion_id, v]));
    const theirs = new Map((other.record.verdicts || []).map((v) => [v.criterion_id, v]));
    const table = el("table", { class: "criteria", field: "other-run" });
    table.append(el("tr", {}, ...["criterion", "this run", "other run", "flip"].map(
      (h) => el("th", {}, h))));
    for (const id of new Set([...mine.keys(), ...theirs.keys()])) {
      const a = mine.get(id) || {}, b = theirs.get(id) || {};
      table.append(el("tr", {}, el("td", {}, dataText("criterion_id", asText(id), "span")),
        el("td", {}, asText(a.verdict) + " " + fmt(a.p_yes)),
        el("td", {}, asText(b.verdict) + " " + fmt(b.p_yes)),
        el("td", {}, flipText(a.verdict, b.verdict))));
    }
    const score = "score " + fmt(record.score) + " → " + fmt(other.record.score);
    return section("the other run", el("p", {}, score), table);
  }

  function routeRows(route) {
    if (!route || typeof route !== "object") return [["route", route]];
    const rows = [["route", asText(route.route) + " (from the " + asText(route.source) +
      (typeof route.p_route === "number" ? ", P = " + fmt(route.p_route) : "") + ")"]];
    if (route.note) rows.push(["route note", route.note]);
    return rows;
  }

  async function samplePage(params) {
    const runIndex = Number(params.run || 0);
    const i = Number(params.i || 0);
    const found = await api("sample", { run: runIndex, i });
    const record = found.record;
    const pairwise = record.pair_id !== undefined || record.mode === "pairwise";
    const details = parseJson(record.details);
    const rubric = found.rubric || null;
    let label = found.label;

    const status = el("span", { class: "muted", field: "label-status" });
    const save = async (choice) => {
      try {
        label = await postLabel({ run: runIndex, i, ...choice });
        status.textContent = "label saved";
        await render();
      } catch (error) {
        status.textContent = "not saved: " + error.message;
      }
    };
    const criteria = () => (label && label.criteria) ? { ...label.criteria } : {};
    const labelBox = el("div", { class: "labels", field: "label-box" });
    const mark = (name, value, text) => el("button", {
      type: "button", field: "label-" + text,
      class: label && label[name] === value ? "on" : "",
      disabled: !meta.writable,
      onclick: () => save({ [name]: value, criteria: criteria() }),
    }, text);
    if (pairwise) {
      labelBox.append("the better response: ", mark("better", "a", "A"), mark("better", "b", "B"),
        mark("better", "tie", "tie"));
    } else {
      labelBox.append("this judgment is ", mark("correct", true, "right"),
        mark("correct", false, "wrong"));
    }
    labelBox.append(" ", status);
    if (!meta.writable) labelBox.append(el("span", { class: "muted" }, " (read-only)"));
    const current = el("p", { field: "label-current" }, label
      ? "your label: " + (pairwise ? "better " + label.better : (label.correct === true ? "right"
        : label.correct === false ? "wrong" : "per criterion")) + " (" + label.at + ")"
      : "not labelled yet");

    const nav = el("div", { class: "pager" },
      el("button", { type: "button", disabled: i === 0, field: "prev",
        onclick: () => go("sample", { run: runIndex, i: i - 1 }) }, "‹ prev"),
      el("span", {}, "judgment " + (i + 1) + " of " + found.total),
      el("button", { type: "button", disabled: i + 1 >= found.total, field: "next",
        onclick: () => go("sample", { run: runIndex, i: i + 1 }) }, "next ›"),
      el("a", { href: "#/list?run=" + runIndex }, "back to the list"));

    const summary = keyValues([
      ["id", record.sample_id || record.pair_id || record.id],
      [pairwise ? "P(A better)" : "score", fmt(pairwise ? record.p_a : record.score)],
      ["confidence", fmt(record.confidence)],
      ["strategy", record.strategy], ...routeRows(parseJson(record.route)),
      ["rubric", record.rubric], ["model", record.model],
      ["fingerprints", [record.rubric_fingerprint, record.template_fingerprint,
        record.settings_fingerprint].filter(Boolean).join(" ")],
    ].filter(([, value]) => value !== undefined && value !== null && value !== ""), "summary");

    const parts = [nav, el("h1", {}, dataText("title", record.sample_id || record.pair_id ||
      record.id || "", "span")), labelBox, current, summary, conversation(record)];
    if (pairwise) parts.push(pairwiseBlock(record));
    else {
      parts.push(section("how the score was made", ...scoreExplanation(record, rubric),
        criteriaTable(record, rubric, label, (id, right) => {
          const next = criteria();
          next[id] = right;
          save({ correct: label ? label.correct : null, criteria: next });
        })));
    }
    if (found.other) parts.push(otherRun(record, found.other));
    const rest = Object.entries(record).filter(([key]) => !SHOWN.has(key) &&
      !["model", "rubric", "strategy", "mode", "route"].includes(key));
    parts.push(section("other fields", keyValues(rest, "extra")));
    if (details && typeof details === "object") {
      parts.push(section("details", keyValues(Object.entries(details), "details")));
    }
    parts.push(section("raw judgment JSON",
      dataText("raw", JSON.stringify(record, null, 2), "pre")));
    main().replaceChildren(...parts);
  }

  // ---- plots (inline SVG) ----------------------------------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function barChart(counts, title, field, low, high) {
    const width = 420, height = 180, pad = 28;
    const root = svg("svg", { width, height, viewBox: "0 0 " + width + " " + height,
      "data-field": field, role: "img" });
    const top = Math.max(1, ...counts);
    const step = (width - 2 * pad) / counts.length;
    counts.forEach((count, index) => {
      const h = (height - 2 * pad) * count / top;
      root.append(svg("rect", { x: pad + index * step + 1, y: height - pad - h,
        width: Math.max(1, step - 2), height: h, class: "bar" }, undefined));
    });
    root.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad,
      class: "axis" }));
    root.append(svg("text", { x: pad, y: height - 8 }, low === undefined ? "0" : low));
    root.append(svg("text", { x: width - pad - 8, y: height - 8 },
      high === undefined ? "1" : high));
    root.append(svg("text", { x: pad, y: 16 }, title + " (max " + top + ")"));
    return root;
  }

  function reliabilityChart(bins) {
    const size = 240, pad = 28;
    const root = svg("svg", { width: size, height: size, "data-field": "reliability",
      role: "img" });
    const x = (p) => pad + p * (size - 2 * pad);
    const y = (p) => size - pad - p * (size - 2 * pad);
    root.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "diagonal" }));
    root.append(svg("rect", { x: x(0), y: y(1), width: x(1) - x(0), height: y(0) - y(1),
      class: "frame" }));
    for (const bin of bins) {
      root.append(svg("circle", { cx: x(bin.mean_p), cy: y(bin.rate),
        r: 3 + Math.min(8, Math.sqrt(bin.n)), class: "point" }));
    }
    root.append(svg("text", { x: pad, y: size - 6 }, "score (predicted P(pass)) →"));
    root.append(svg("text", { x: 4, y: 14 }, "share that passed"));
    return root;
  }

  function probeChart(attacks) {
    const row = 22, width = 520, left = 200;
    const root = svg("svg", { width, height: row * attacks.length + 30,
      "data-field": "probe", role: "img" });
    attacks.forEach((attack, index) => {
      const y = 10 + index * row;
      root.append(svg("text", { x: 4, y: y + 14 }, attack.name + " (" + attack.role + ")"));
      const value = typeof attack.value === "number" ? attack.value : 0;
      root.append(svg("rect", { x: left, y, width: (width - left - 40) * value, height: row - 6,
        class: attack.role === "attack" ? "bar attack" : "bar" }));
      root.append(svg("text", { x: left + (width - left - 40) * value + 4, y: y + 14 },
        fmt(attack.value, 2)));
    });
    return root;
  }

  async function plotsPage(params) {
    const runIndex = Number(params.run || 0);
    const found = await api("plots", { run: runIndex });
    const parts = [el("h1", {}, "plots: ", dataText("run", meta.runs[runIndex].name, "span"))];
    parts.push(section("score histogram", barChart(found.histogram, "judgments per score bin",
      "histogram")));
    if (found.reliability.length) {
      parts.push(section("reliability diagram (gold from your labels or the eval set)",
        reliabilityChart(found.reliability)));
    } else {
      parts.push(section("reliability diagram", el("p", { class: "muted" },
        "label some judgments (right / wrong) to see how well the score is calibrated.")));
    }
    if (found.probe) parts.push(section("probe acceptance", probeChart(found.probe)));
    main().replaceChildren(...parts);
  }

  // ---- two runs --------------------------------------------------------------------------------
  async function comparePage() {
    const found = await api("compare", {});
    const cells = found.agreement;
    const table = el("table", { class: "kv", field: "agreement" },
      el("tr", {}, el("th", {}, ""), el("th", {}, "second: pass"), el("th", {}, "second: fail")),
      el("tr", {}, el("th", {}, "first: pass"), el("td", {}, String(cells["pass/pass"])),
        el("td", {}, String(cells["pass/fail"]))),
      el("tr", {}, el("th", {}, "first: fail"), el("td", {}, String(cells["fail/pass"])),
        el("td", {}, String(cells["fail/fail"]))));
    const moved = el("table", { class: "rows", field: "most-moved" },
      el("tr", {}, ...["id", "first", "second", "delta"].map((h) => el("th", {}, h))));
    for (const item of found.most_moved) {
      moved.append(el("tr", {},
        el("td", {}, el("a", { href: "#/sample?run=0&i=" + Number(item.i) },
          dataText("id", item.id, "span"))),
        el("td", { class: "num" }, fmt(item.a)), el("td", { class: "num" }, fmt(item.b)),
        el("td", { class: "num" }, fmt(item.delta))));
    }
    main().replaceChildren(
      el("h1", {}, "two runs: ", dataText("run", found.names[0], "span"), " vs ",
        dataText("run", found.names[1], "span")),
      el("p", {}, found.matched + " judgments in both; agreement on pass/fail " +
        fmt(found.agreement_rate, 3) + ", " + found.flips + " flips, mean score change " +
        fmt(found.mean_delta)),
      section("agreement (pass = score ≥ 0.5)", table),
      section("score change, second minus first (−1 … 1)",
        barChart(found.delta_histogram, "judgments per change bin", "delta-histogram",
          "−1", "+1")),
      section("the items that moved most", moved));
  }

  // ---- start -----------------------------------------------------------------------------------
  async function render() {
    const { page, params } = route();
    try {
      if (page === "sample") await samplePage(params);
      else if (page === "plots") await plotsPage(params);
      else if (page === "compare") await comparePage();
      else await listPage(params);
      document.getElementById("status").textContent = "";
    } catch (error) {
      showError(error);
    }
    document.body.dataset.ready = page;
  }

  async function start() {
    try {
      meta = await api("meta", {});
    } catch (error) {
      showError(error);
      return;
    }
    document.getElementById("run-name").textContent = meta.runs.map((r) => r.name).join(" vs ") +
      (meta.writable ? "" : " (read-only)");
    document.getElementById("nav-compare").hidden = meta.runs.length < 2;
    window.addEventListener("hashchange", render);
    await render();
  }

  start();
})();
