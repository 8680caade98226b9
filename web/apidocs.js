// The API docs page: this server's /openapi.json listed operation by operation (method,
// path, summary, parameters, request body, responses). Our own page instead of a Swagger
// UI from a CDN: nothing from another origin runs where a nurse is signed in, and it keeps
// to the strict Content-Security-Policy (DOM built with el(), no HTML from strings).

import { el } from "/format.js";

const METHODS = ["get", "post", "put", "patch", "delete"];

/** The component a "$ref" points to, with its name. */
function resolve(spec, ref) {
  const name = ref.split("/").pop();
  return { name, schema: spec.components?.schemas?.[name] ?? {} };
}

/**
 * A schema as indented text: objects with their properties (required ones marked),
 * arrays of their items, alternatives joined by "|"; a named schema is expanded once per
 * branch (a schema that contains itself is named, not repeated).
 */
export function describeSchema(spec, schema, indent = "", seen = new Set()) {
  if (!schema || typeof schema !== "object") return "any";
  if (schema.$ref) {
    const { name, schema: target } = resolve(spec, schema.$ref);
    if (seen.has(name)) return name;
    const inner = describeSchema(spec, target, indent, new Set([...seen, name]));
    return inner.startsWith("{") ? `${name} ${inner}` : inner;
  }
  const alternatives = schema.anyOf || schema.oneOf;
  if (alternatives) return alternatives.map((s) => describeSchema(spec, s, indent, seen)).join(" | ");
  if (schema.allOf) return schema.allOf.map((s) => describeSchema(spec, s, indent, seen)).join(" & ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  if (type === "array") return `[${describeSchema(spec, schema.items, indent, seen)}]`;
  if (type === "object" || schema.properties) {
    const props = Object.entries(schema.properties || {});
    if (!props.length) {
      const extra = schema.additionalProperties;
      return extra && typeof extra === "object"
        ? `{string: ${describeSchema(spec, extra, indent, seen)}}` : "object";
    }
    const required = new Set(schema.required || []);
    const next = indent + "  ";
    const lines = props.map(([key, value]) =>
      `${next}${key}${required.has(key) ? "" : "?"}: ${describeSchema(spec, value, next, seen)}`);
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  const limits = [];
  for (const [key, label] of [["minimum", ">="], ["exclusiveMinimum", ">"], ["maximum", "<="],
    ["exclusiveMaximum", "<"], ["minLength", "length >="], ["maxLength", "length <="]]) {
    if (schema[key] !== undefined) limits.push(`${label} ${schema[key]}`);
  }
  const base = type || "any";
  const format = schema.format ? ` (${schema.format})` : "";
  return limits.length ? `${base}${format} [${limits.join(", ")}]` : `${base}${format}`;
}

function contentBlock(spec, content) {
  const parts = [];
  for (const [type, media] of Object.entries(content || {})) {
    parts.push(el("p", {}, el("code", { textContent: type })));
    if (media.schema) parts.push(el("pre", { textContent: describeSchema(spec, media.schema) }));
  }
  return parts;
}

function parametersTable(spec, parameters) {
  const rows = parameters.map((p) => el("tr", {},
    el("td", {}, el("code", { textContent: p.name })),
    el("td", { textContent: p.in }),
    el("td", { textContent: p.required ? "yes" : "no" }),
    el("td", {}, el("code", { textContent: describeSchema(spec, p.schema) })),
    el("td", { textContent: p.description || "" })));
  return el("table", { class: "parameters" },
    el("thead", {}, el("tr", {}, ...["name", "in", "required", "type", "description"]
      .map((h) => el("th", { textContent: h })))),
    el("tbody", {}, ...rows));
}

function responsesTable(spec, responses) {
  const rows = Object.entries(responses || {}).map(([status, r]) => el("tr", {
    "data-status": status },
  el("td", {}, el("code", { textContent: status })),
  el("td", {}, el("span", { class: "description", textContent: r.description || "" }),
    ...contentBlock(spec, r.content))));
  return el("table", { class: "responses" },
    el("thead", {}, el("tr", {}, el("th", { textContent: "status" }),
      el("th", { textContent: "answer" }))),
    el("tbody", {}, ...rows));
}

/** One operation as a <details>: the summary line, then what it takes and answers. */
export function operationView(spec, method, path, op) {
  const body = el("div", { class: "op-body" });
  if (op.description) body.append(el("p", { class: "description", textContent: op.description }));
  const parameters = op.parameters || [];
  if (parameters.length) body.append(el("h3", { textContent: "Parameters" }), parametersTable(spec, parameters));
  if (op.requestBody) {
    const required = op.requestBody.required ? "required" : "optional";
    body.append(el("h3", { textContent: `Request body (${required})` }),
      ...contentBlock(spec, op.requestBody.content));
  }
  body.append(el("h3", { textContent: "Responses" }), responsesTable(spec, op.responses));
  return el("details", { class: "op", "data-method": method, "data-path": path },
    el("summary", {},
      el("span", { class: `method ${method}`, textContent: method.toUpperCase() }),
      el("span", { class: "path", textContent: path }),
      el("span", { class: "muted", textContent: op.summary || "" })),
    body);
}

function render(spec) {
  document.getElementById("api-title").textContent =
    `${spec.info?.title || "API"} ${spec.info?.version || ""}`.trim();
  document.getElementById("api-summary").textContent = spec.info?.summary || "";
  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operationView(spec, method, path, op));
    }
  }
  const main = document.getElementById("api-operations");
  const index = document.getElementById("api-index");
  main.replaceChildren();
  for (const [tag, views] of byTag) {
    const id = `tag-${tag.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`;
    index.append(el("a", { href: `#${id}`, textContent: `${tag} (${views.length})` }));
    main.append(el("section", { id, "data-tag": tag }, el("h2", { textContent: tag }), ...views));
  }
}

async function init() {
  const status = document.getElementById("api-status");
  try {
    const res = await fetch("/openapi.json", { headers: { Accept: "application/json" } });
    if (res.status === 401) {
      location.assign("/login?error=expired&next=%2Fdocs");
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    render(await res.json());
  } catch (err) {
    status.className = "status error";
    status.textContent = `The API's description could not be loaded: ${err.message}`;
  }
}

init();
