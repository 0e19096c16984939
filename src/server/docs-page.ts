/**
 * The API reference page at `/docs`: rendered on the server from the OpenAPI document, one
 * self-contained HTML file (inline CSS, no script, no CDN), so it works offline and behind any CSP.
 */

type Json = Record<string, any>;

const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Inline `code` spans in descriptions. */
const prose = (s: unknown): string => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');

function refName(ref: string): string {
  return ref.split('/').pop() ?? ref;
}

function typeLabel(schema: Json | undefined): string {
  if (!schema) return 'any';
  if (schema.$ref) return `<a href="#schema-${esc(refName(schema.$ref))}">${esc(refName(schema.$ref))}</a>`;
  if (schema.allOf?.length === 1) return typeLabel(schema.allOf[0]);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  let label = types.length ? types.join(' | ') : 'any';
  if (types.includes('array')) label = label.replace('array', `array of ${typeLabel(schema.items)}`);
  if (schema.format) label += ` (${esc(schema.format)})`;
  return label;
}

function constraints(schema: Json): string {
  const parts: string[] = [];
  if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.map((v: unknown) => `<code>${esc(v === null ? 'null' : v)}</code>`).join(', ')}`);
  if (Array.isArray(schema.items?.enum)) parts.push(`items: ${schema.items.enum.map((v: unknown) => `<code>${esc(v)}</code>`).join(', ')}`);
  if (schema.pattern) parts.push(`pattern <code>${esc(schema.pattern)}</code>`);
  if (schema.minimum !== undefined) parts.push(`min ${esc(schema.minimum)}`);
  if (schema.maximum !== undefined) parts.push(`max ${esc(schema.maximum)}`);
  if (schema.maxLength !== undefined) parts.push(`max length ${esc(schema.maxLength)}`);
  if (schema.default !== undefined) parts.push(`default <code>${esc(JSON.stringify(schema.default))}</code>`);
  return parts.join('; ');
}

function propertiesTable(schema: Json | undefined): string {
  const props = schema?.properties as Json | undefined;
  if (!props || Object.keys(props).length === 0) return '';
  const required = new Set<string>(schema?.required ?? []);
  const rows = Object.entries(props)
    .map(([name, p]: [string, Json]) => `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td><td>${typeLabel(p)}</td><td>${prose(p.description)}${p.description && constraints(p) ? '<br>' : ''}${constraints(p)}</td></tr>`)
    .join('');
  return `<table><thead><tr><th>Field</th><th>Type</th><th>Notes</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function parametersTable(params: Json[] | undefined): string {
  if (!params?.length) return '';
  const rows = params
    .map((p) => `<tr><td><code>${esc(p.name)}</code> <span class="in">${esc(p.in)}</span>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${typeLabel(p.schema)}</td><td>${prose(p.description ?? p.schema?.description)}${constraints(p.schema ?? {}) ? ` ${constraints(p.schema ?? {})}` : ''}</td></tr>`)
    .join('');
  return `<h4>Parameters</h4><table><thead><tr><th>Name</th><th>Type</th><th>Notes</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function operation(method: string, path: string, op: Json): string {
  const id = `op-${method}-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;
  const body = op.requestBody?.content ? (Object.values(op.requestBody.content)[0] as Json | undefined)?.schema : undefined;
  const secured = Array.isArray(op.security) && op.security.length > 0;
  const responses = Object.entries((op.responses ?? {}) as Json)
    .map(([status, r]: [string, Json]) => {
      const schema = r.content ? (Object.values(r.content)[0] as Json | undefined)?.schema : undefined;
      return `<tr><td><code>${esc(status)}</code></td><td>${prose(r.description)}</td><td>${schema ? typeLabel(schema) : ''}</td></tr>`;
    })
    .join('');
  return `<section class="op" id="${esc(id)}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p class="summary">${prose(op.summary)}${secured ? ' <span class="auth">API key</span>' : ' <span class="public">no key</span>'}</p>
${op.description ? `<p>${prose(op.description)}</p>` : ''}
${parametersTable(op.parameters)}
${body ? `<h4>Request body</h4>${body.description ? `<p>${prose(body.description)}</p>` : ''}${body.$ref ? `<p>${typeLabel(body)}</p>` : propertiesTable(body)}` : ''}
<h4>Responses</h4><table><thead><tr><th>Status</th><th>Meaning</th><th>Body</th></tr></thead><tbody>${responses}</tbody></table>
</section>`;
}

export function renderDocsPage(doc: Json): string {
  const info = doc.info ?? {};
  const ops: Array<{ method: string; path: string; op: Json; tag: string }> = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Json)) {
    for (const [method, op] of Object.entries(item as Json)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      ops.push({ method, path, op: op as Json, tag: (op as Json).tags?.[0] ?? 'other' });
    }
  }
  const tags: Json[] = doc.tags ?? [];
  const tagNames = [...new Set([...tags.map((t) => t.name as string), ...ops.map((o) => o.tag)])];
  const nav = tagNames
    .map((t) => `<li><strong>${esc(t)}</strong><ul>${ops.filter((o) => o.tag === t).map((o) => `<li><a href="#op-${esc(o.method)}-${esc(o.path.replace(/[^A-Za-z0-9]+/g, '-'))}"><span class="m">${esc(o.method.toUpperCase())}</span> ${esc(o.path)}</a></li>`).join('')}</ul></li>`)
    .join('');
  const sections = tagNames
    .map((t) => {
      const desc = tags.find((x) => x.name === t)?.description;
      return `<h2 id="tag-${esc(t)}">${esc(t)}</h2>${desc ? `<p>${prose(desc)}</p>` : ''}${ops.filter((o) => o.tag === t).map((o) => operation(o.method, o.path, o.op)).join('\n')}`;
    })
    .join('\n');
  const schemas = Object.entries((doc.components?.schemas ?? {}) as Json)
    .map(([name, s]: [string, Json]) => `<section class="schema" id="schema-${esc(name)}"><h3>${esc(name)}</h3>${s.description ? `<p>${prose(s.description)}</p>` : ''}${propertiesTable(s)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title ?? 'API')} reference</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;display:flex}
nav{width:290px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f5f6f8;border-right:1px solid #e1e4ea;padding:16px;box-sizing:border-box;font-size:13px}
nav ul{list-style:none;padding-left:0;margin:4px 0 12px}nav ul ul li{margin:2px 0}nav a{color:#1d2330;text-decoration:none}nav a:hover{text-decoration:underline}
.m{display:inline-block;width:52px;font-weight:600;font-size:11px;color:#555}
main{flex:1;max-width:980px;padding:24px 40px}
h1{margin-top:0}h2{border-bottom:1px solid #e1e4ea;padding-bottom:4px;margin-top:40px;text-transform:capitalize}
.op,.schema{border:1px solid #e1e4ea;border-radius:6px;padding:8px 16px 12px;margin:16px 0}
.method{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-size:13px}
.get{background:#2f7bd8}.post{background:#2b9a5a}.delete{background:#c9463d}.put,.patch{background:#b07d12}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0 8px}th,td{text-align:left;border-bottom:1px solid #eceef2;padding:4px 8px;vertical-align:top}
code{background:#f1f2f5;border-radius:3px;padding:0 3px;font-size:12.5px}
.req{color:#c9463d;font-size:11px}.in{color:#777;font-size:11px}.auth,.public{font-size:11px;border-radius:3px;padding:1px 6px}
.auth{background:#fff3d6;color:#7a5400}.public{background:#e7f5ec;color:#1f6b3d}.summary{font-weight:500}
</style></head>
<body><nav><p><strong>${esc(info.title ?? 'API')}</strong> ${esc(info.version ?? '')}</p><ul>${nav}<li><strong><a href="#schemas">schemas</a></strong></li></ul><p><a href="/openapi.json">openapi.json</a></p></nav>
<main><h1>${esc(info.title ?? 'API')} <small>${esc(info.version ?? '')}</small></h1>
<p>${prose(info.description)}</p>
<p>Authenticate with <code>Authorization: Bearer refundhub_...</code> (create one with <code>refundhub keys create --scope refunds:read</code>). Errors are <code>{"error": {"code", "message"}}</code>. The machine-readable document is <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
${sections}
<h2 id="schemas">schemas</h2>
${schemas}
</main></body></html>
`;
}
