import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/index.js';
import { RefundHubError } from '../errors.js';

/**
 * API keys: `refundhub_` + 32 random bytes (base64url), shown once at creation. Only the SHA-256
 * hash is stored, plus a short prefix so listings can tell keys apart.
 */

/** What a key may do. `refunds:write` implies `refunds:read`. */
export const API_SCOPES = ['refunds:read', 'refunds:write', 'webhooks:write'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const API_KEY_PREFIX = 'refundhub_';
/** The exact shape of the keys we issue (prefix + 32 random bytes, base64url). */
export const API_KEY_RE = /^refundhub_[A-Za-z0-9_-]{43}$/;

export function isApiScope(v: unknown): v is ApiScope {
  return typeof v === 'string' && (API_SCOPES as readonly string[]).includes(v);
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface ApiKeyInfo {
  id: string;
  prefix: string;
  scopes: ApiScope[];
  name: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreateApiKeyOptions {
  now?: number;
}

/** Creates a key with the given scopes and returns it: the only time the full key exists outside its holder. */
export async function createApiKey(db: Db, scopes: readonly string[], name?: string | null, options: CreateApiKeyOptions = {}): Promise<string> {
  if (scopes.length === 0) throw new RefundHubError('invalid_input', `at least one scope is required (${API_SCOPES.join(', ')})`);
  for (const s of scopes) {
    if (!isApiScope(s)) throw new RefundHubError('invalid_input', `unknown scope "${s}" (expected one of: ${API_SCOPES.join(', ')})`);
  }
  if (name != null && (typeof name !== 'string' || name.length > 200)) throw new RefundHubError('invalid_input', 'key name must be at most 200 characters');
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const id = 'key_' + randomBytes(8).toString('hex');
  await db
    .insertInto('api_keys')
    .values({
      id,
      prefix: key.slice(0, API_KEY_PREFIX.length + 6),
      hash: hashApiKey(key),
      scopes: JSON.stringify([...new Set(scopes)]),
      name: name ?? null,
      created_at: options.now ?? Date.now(),
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return key;
}

function parseScopes(text: string): ApiScope[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter(isApiScope) : [];
  } catch {
    return [];
  }
}

const iso = (ms: number | null): string | null => (ms == null ? null : new Date(Number(ms)).toISOString());

export async function listApiKeys(db: Db): Promise<ApiKeyInfo[]> {
  const rows = await db.selectFrom('api_keys').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    scopes: parseScopes(r.scopes),
    name: r.name,
    createdAt: iso(r.created_at)!,
    lastUsedAt: iso(r.last_used_at),
    revokedAt: iso(r.revoked_at),
  }));
}

/** Revokes a key by id; false when there is no such (active) key. */
export async function revokeApiKey(db: Db, id: string, now: number = Date.now()): Promise<boolean> {
  const r = await db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export interface VerifiedKey {
  id: string;
  scopes: ApiScope[];
}

/** Looks a presented key up by its hash; null for unknown, malformed or revoked keys. */
export async function verifyApiKey(db: Db, key: string): Promise<VerifiedKey | null> {
  if (!API_KEY_RE.test(key)) return null;
  const row = await db.selectFrom('api_keys').select(['id', 'scopes', 'revoked_at']).where('hash', '=', hashApiKey(key)).executeTakeFirst();
  if (!row || row.revoked_at != null) return null;
  return { id: row.id, scopes: parseScopes(row.scopes) };
}

/** True when a key with `granted` scopes may act with `required`. */
export function hasScope(granted: readonly ApiScope[], required: ApiScope): boolean {
  if (granted.includes(required)) return true;
  return required === 'refunds:read' && granted.includes('refunds:write');
}

export async function touchApiKey(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute();
}

/** How long a verified (or refused) key is trusted without asking the database, one process on SQLite. */
export const DEFAULT_API_KEY_CACHE_MS = 5_000;
/**
 * The same on PostgreSQL, where several API nodes share the keys: a key created or revoked on one
 * node takes effect on every other node within this (the issue allows one second). Nothing else
 * invalidates the cache; the age bound is the whole contract, at one key lookup per key per node
 * per half second.
 */
export const SHARED_API_KEY_CACHE_MS = 500;

export function apiKeyCacheMsFor(dialect: 'sqlite' | 'postgres'): number {
  return dialect === 'postgres' ? SHARED_API_KEY_CACHE_MS : DEFAULT_API_KEY_CACHE_MS;
}

/**
 * Verifies Bearer keys with a short in-memory cache, so a hot read path costs no database round
 * trip per request; revocation takes effect within `ttlMs`. The cache is keyed by the presented
 * key itself: it already sits in this process's memory with every request, and hashing it on
 * each cached read cost as much as the rest of the hot read. Only its hash is ever stored.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, { key: VerifiedKey | null; until: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = DEFAULT_API_KEY_CACHE_MS,
  ) {}

  /**
   * The cached verdict without touching the database: the key, null (known bad), or undefined when
   * the cache cannot say (then call `verify`). Lets the hot path stay synchronous.
   */
  cached(key: string): VerifiedKey | null | undefined {
    // Anything not shaped like our keys is refused before it can take room in the cache.
    if (!API_KEY_RE.test(key)) return null;
    const t = this.now();
    const hit = this.cache.get(key);
    if (!hit || hit.until <= t) return undefined;
    this.touch(hit.key, t);
    return hit.key;
  }

  async verify(key: string): Promise<VerifiedKey | null> {
    if (!API_KEY_RE.test(key)) return null;
    const t = this.now();
    const hit = this.cache.get(key);
    let verified: VerifiedKey | null;
    if (hit && hit.until > t) verified = hit.key;
    else {
      verified = await verifyApiKey(this.db, key);
      // Bounded: the oldest entry goes first, so a flood of wrong keys cannot evict all good ones at once.
      if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { key: verified, until: t + this.ttlMs });
    }
    this.touch(verified, t);
    return verified;
  }

  private touch(verified: VerifiedKey | null, t: number): void {
    if (verified && (this.touched.get(verified.id) ?? 0) + 60_000 < t) {
      this.touched.set(verified.id, t);
      // Best effort: last-used bookkeeping must never fail or slow a request.
      touchApiKey(this.db, verified.id, t).catch(() => {});
    }
  }
}
