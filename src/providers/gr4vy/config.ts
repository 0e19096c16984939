import { readFileSync } from 'node:fs';
import { RefundHubError } from '../../errors.js';
import { optionalString, readEnv, requireBaseUrl } from '../shared.js';
import type { CommonSettings, ProviderConfigSpec, RawSettings } from '../types.js';
import { loadGr4vyKey, normalizePem } from './keys.js';

/** Which Gr4vy environment the instance URL points at. */
export type Gr4vyEnvironment = 'sandbox' | 'production';

/** Validated settings of one Gr4vy account. */
export interface Gr4vySettings extends CommonSettings {
  /** The instance name (`{id}` in `api.sandbox.{id}.gr4vy.app`); optional when `baseUrl` is set explicitly. */
  instanceId?: string;
  /** PEM text of the API key-pair's ECDSA P-521 private key (PKCS#8 or SEC1). */
  privateKey: string;
  /** Sent as `x-gr4vy-merchant-account-id` on multi-merchant instances. */
  merchantAccountId?: string;
  environment: Gr4vyEnvironment;
  /** JWT `scopes` claim; default `['*.read']` (refund reads need `*.read` or `transactions.read`). */
  scopes?: string[];
}

/** The REFUNDHUB_GR4VY_* variables (issue 2 and issue 3), by settings key. */
export const GR4VY_ENV = {
  instanceId: 'REFUNDHUB_GR4VY_INSTANCE_ID',
  privateKey: 'REFUNDHUB_GR4VY_PRIVATE_KEY',
  privateKeyFile: 'REFUNDHUB_GR4VY_PRIVATE_KEY_FILE',
  merchantAccountId: 'REFUNDHUB_GR4VY_MERCHANT_ACCOUNT_ID',
  environment: 'REFUNDHUB_GR4VY_ENVIRONMENT',
  baseUrl: 'REFUNDHUB_GR4VY_BASE_URL',
  webhookSecret: 'REFUNDHUB_GR4VY_WEBHOOK_SECRET',
} as const;

export const DEFAULT_GR4VY_SCOPES: readonly string[] = ['*.read'];

// Instance ids become a DNS label of the API host.
const INSTANCE_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

function notConfigured(message: string): RefundHubError {
  return new RefundHubError('not_configured', `gr4vy: ${message}`, { provider: 'gr4vy', retryable: false });
}

function environmentOf(raw: RawSettings): Gr4vyEnvironment {
  const v = optionalString(raw, 'environment')?.toLowerCase() ?? 'sandbox';
  if (v !== 'sandbox' && v !== 'production') throw notConfigured(`${GR4VY_ENV.environment} must be "sandbox" or "production"`);
  return v;
}

/** The instance URL (`@gr4vy/sdk` 1.10.18 `src/lib/config.ts`), unless a base URL overrides it. */
function instanceUrl(instanceId: string, environment: Gr4vyEnvironment): string {
  if (!INSTANCE_RE.test(instanceId)) throw notConfigured(`${GR4VY_ENV.instanceId} must be a Gr4vy instance name (letters, digits and hyphens)`);
  return environment === 'production' ? `https://api.${instanceId}.gr4vy.app` : `https://api.sandbox.${instanceId}.gr4vy.app`;
}

/** The private key's PEM text: inline, or read from the file a variable names (never echoed). */
function privateKeyText(raw: RawSettings): string | undefined {
  const inline = optionalString(raw, 'privateKey');
  if (inline) return normalizePem(inline);
  const file = optionalString(raw, 'privateKeyFile');
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : code === 'EISDIR' ? 'is a directory' : 'cannot be read';
    throw notConfigured(`the file named by ${GR4VY_ENV.privateKeyFile} ${why}`);
  }
  if (text.trim() === '') throw notConfigured(`the file named by ${GR4VY_ENV.privateKeyFile} is empty`);
  return text;
}

function scopesOf(raw: RawSettings): string[] {
  const v = raw.scopes;
  if (v === undefined || v === null || v === '') return [...DEFAULT_GR4VY_SCOPES];
  const list = typeof v === 'string' ? v.split(/[\s,]+/) : Array.isArray(v) ? v : null;
  if (!list || !list.every((s) => typeof s === 'string')) throw notConfigured('scopes must be a list of strings');
  const scopes = (list as string[]).map((s) => s.trim()).filter(Boolean);
  if (scopes.length === 0) throw notConfigured('scopes must not be empty');
  return scopes;
}

/** Reads, validates and defaults Gr4vy settings (env variables, config-file accounts, emulator credentials). */
export const gr4vyConfig: ProviderConfigSpec<Gr4vySettings> = {
  env: GR4VY_ENV,

  fromEnv(env) {
    // The key file is only named here and read in resolve(): a bad path must fail the Gr4vy
    // account when it is used, not every provider's config load.
    return readEnv(env, GR4VY_ENV);
  },

  isConfigured(raw) {
    const hasKey = optionalString(raw, 'privateKey') !== undefined || optionalString(raw, 'privateKeyFile') !== undefined;
    const hasUrl = optionalString(raw, 'baseUrl') !== undefined || optionalString(raw, 'instanceId') !== undefined;
    return hasKey && hasUrl;
  },

  resolve(raw) {
    const missing: string[] = [];
    const hasKey = optionalString(raw, 'privateKey') !== undefined || optionalString(raw, 'privateKeyFile') !== undefined;
    if (!hasKey) missing.push(`${GR4VY_ENV.privateKey} (or ${GR4VY_ENV.privateKeyFile})`);
    const instanceId = optionalString(raw, 'instanceId');
    const explicitUrl = optionalString(raw, 'baseUrl');
    if (!instanceId && !explicitUrl) missing.push(`${GR4VY_ENV.instanceId} (or ${GR4VY_ENV.baseUrl})`);
    if (missing.length) throw notConfigured(`not configured: set ${missing.join(', ')}`);

    const environment = environmentOf(raw);
    const baseUrl = explicitUrl ? requireBaseUrl('gr4vy', explicitUrl, GR4VY_ENV.baseUrl) : instanceUrl(instanceId!, environment);
    const privateKey = privateKeyText(raw)!;
    const label = optionalString(raw, 'privateKey') ? GR4VY_ENV.privateKey : `the file named by ${GR4VY_ENV.privateKeyFile}`;
    // Parse now so a bad key is a configuration error up front, not an error on the first request.
    loadGr4vyKey(privateKey, label);

    const settings: Gr4vySettings = { baseUrl, privateKey, environment, scopes: scopesOf(raw) };
    if (instanceId) {
      if (!INSTANCE_RE.test(instanceId)) throw notConfigured(`${GR4VY_ENV.instanceId} must be a Gr4vy instance name (letters, digits and hyphens)`);
      settings.instanceId = instanceId;
    }
    const merchantAccountId = optionalString(raw, 'merchantAccountId');
    if (merchantAccountId) settings.merchantAccountId = merchantAccountId;
    const webhookSecret = optionalString(raw, 'webhookSecret');
    if (webhookSecret) settings.webhookSecret = webhookSecret;
    return settings;
  },

  baseUrl(raw) {
    const explicitUrl = optionalString(raw, 'baseUrl');
    if (explicitUrl) return explicitUrl.replace(/\/+$/, '');
    const environment = environmentOf(raw);
    const instanceId = optionalString(raw, 'instanceId');
    if (!instanceId) return environment === 'production' ? 'https://api.{instanceId}.gr4vy.app' : 'https://api.sandbox.{instanceId}.gr4vy.app';
    return instanceUrl(instanceId, environment);
  },

  secretKeys: ['privateKey', 'webhookSecret'],
};
