import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import type { ProviderId } from '../../src/domain/refund.js';

/**
 * Validates emulator responses against the providers' own OpenAPI documents in specs/, with a
 * real JSON Schema validator (Ajv): draft 2020-12 for OpenAPI 3.1 documents, draft-07 plus
 * `nullable` for 3.0 ones. Schemas are taken from the document by JSON pointer, so nothing is
 * copied by hand.
 */

// ajv-formats is CommonJS; under NodeNext its callable export sits on `default`.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;
const SPEC_FILES: Record<ProviderId, string> = {
  ziina: 'ziina.yaml',
  tazapay: 'tazapay.yaml',
  gr4vy: 'gr4vy.yaml',
  stan: 'stan.yaml',
  onekey: 'onekey.json',
};

/**
 * OpenAPI 3.0 `nullable: true` without a `type` (beside allOf/$ref, as NestJS emits it: Ziina's
 * RefundDto.error) is refused by Ajv's `nullable` keyword; express it as plain JSON Schema.
 */
function nullableToJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableToJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = nullableToJsonSchema(v);
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _nullable, description, ...rest } = out;
    return { ...(description !== undefined ? { description } : {}), anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

const cache = new Map<string, ValidateFunction>();
const docs = new Map<ProviderId, { doc: Record<string, any>; ajv: Ajv }>();

function load(provider: ProviderId): { doc: Record<string, any>; ajv: Ajv } {
  let entry = docs.get(provider);
  if (!entry) {
    const file = fileURLToPath(new URL(`../../specs/${SPEC_FILES[provider]}`, import.meta.url));
    const text = readFileSync(file, 'utf8');
    const parsed = (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as Record<string, any>;
    const is31 = String(parsed.openapi).startsWith('3.1');
    const doc = (is31 ? parsed : nullableToJsonSchema(parsed)) as Record<string, any>;
    const ajv = (is31 ? new Ajv2020({ strict: false, allErrors: true }) : new Ajv({ strict: false, allErrors: true })) as Ajv;
    addFormats(ajv);
    // OpenAPI's own formats, which JSON Schema does not define.
    for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'string']) ajv.addFormat(f, true);
    ajv.addSchema({ ...doc, $id: `spec:${provider}` });
    entry = { doc, ajv };
    docs.set(provider, entry);
  }
  return entry;
}

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The schema pointer of an operation's response; falls back to `default` as OpenAPI does. */
export function responseSchemaPointer(provider: ProviderId, path: string, status: number, method = 'get'): string | undefined {
  const { doc } = load(provider);
  const op = doc.paths?.[path]?.[method];
  if (!op) throw new Error(`${provider} spec has no ${method.toUpperCase()} ${path}`);
  const key = op.responses?.[String(status)] ? String(status) : op.responses?.default ? 'default' : undefined;
  if (!key) return undefined;
  let response = op.responses[key];
  let base = `/paths/${escapePointer(path)}/${method}/responses/${key}`;
  if (response.$ref) {
    base = response.$ref.slice(1);
    response = base.split('/').slice(1).reduce((o: any, k: string) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  if (!response?.content?.['application/json']?.schema) return undefined;
  return `${base}/content/${escapePointer('application/json')}/schema`;
}

export interface ValidationResult {
  valid: boolean;
  /** False when the spec documents no JSON body for this status (nothing to validate against). */
  documented: boolean;
  errors: string[];
}

/** Validates a JSON body against the spec's schema for that operation and status. */
export function validateResponse(provider: ProviderId, path: string, status: number, body: unknown, method = 'get'): ValidationResult {
  const pointer = responseSchemaPointer(provider, path, status, method);
  if (!pointer) return { valid: true, documented: false, errors: [] };
  const key = `${provider}#${pointer}`;
  let validate = cache.get(key);
  if (!validate) {
    const { ajv } = load(provider);
    const ref = `spec:${provider}#${pointer.split('/').map((p) => encodeURIComponent(p)).join('/')}`;
    validate = ajv.compile({ $ref: ref });
    cache.set(key, validate);
  }
  const valid = validate(body) as boolean;
  return { valid, documented: true, errors: (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`) };
}

/** Validates a value against any schema of the spec by JSON pointer (e.g. `/components/schemas/ErrorDto`). */
export function validateSchema(provider: ProviderId, pointer: string, body: unknown): ValidationResult {
  const key = `${provider}#${pointer}`;
  let validate = cache.get(key);
  if (!validate) {
    const { ajv } = load(provider);
    validate = ajv.compile({ $ref: `spec:${provider}#${pointer.split('/').map((p) => encodeURIComponent(p)).join('/')}` });
    cache.set(key, validate);
  }
  const valid = validate(body) as boolean;
  return { valid, documented: true, errors: (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`) };
}
