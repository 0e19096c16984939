import type { Kysely } from 'kysely';

/**
 * A provider account paused after a 429 (Retry-After), shared through the database so that every
 * worker on it (and every process on a SQLite file) stops calling that provider account until the
 * pause ends. Table `provider_pauses` (migration 006); works on SQLite and PostgreSQL alike.
 */
interface ProviderPausesTable {
  provider: string;
  account: string;
  until_ms: number;
}

type PausesDb = Kysely<{ provider_pauses: ProviderPausesTable }>;

/**
 * How stale a "not paused" answer may be, at most. Once one worker records a pause, another may
 * still call the provider for this long on its cached answer; the issue allows one second from the
 * 429 to the last call anywhere, so half of that leaves room for the write and the call's own
 * latency. Nothing invalidates the cache but age (no LISTEN/NOTIFY): the age bound is the whole
 * contract, and a process re-reads a provider account at most once per bound.
 */
export const PAUSE_CACHE_MS = 500;

interface CachedPause {
  untilMs: number;
  readAt: number;
}

/** Per database handle, so two stores (tests, migrate-store) never see each other's answers. */
const caches = new WeakMap<object, Map<string, CachedPause>>();

function cacheFor(db: object): Map<string, CachedPause> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  return cache;
}

const cacheKey = (provider: string, account: string) => `${provider}\u0000${account}`;

/**
 * Pauses `provider`/`account` until `untilMs` (epoch ms). Only ever extends: a shorter pause
 * recorded after a longer one (two workers' 429s crossing) leaves the longer one in place.
 */
export async function pauseProvider(db: Kysely<any>, provider: string, account: string, untilMs: number): Promise<void> {
  if (!Number.isFinite(untilMs)) throw new TypeError(`pauseProvider: untilMs must be a finite epoch-ms number, got ${String(untilMs)}`);
  const until = Math.ceil(untilMs);
  const written = await (db as PausesDb)
    .insertInto('provider_pauses')
    .values({ provider, account, until_ms: until })
    .onConflict((oc) =>
      oc
        .columns(['provider', 'account'])
        .doUpdateSet({ until_ms: (eb) => eb.ref('excluded.until_ms') })
        .where('provider_pauses.until_ms', '<', (eb) => eb.ref('excluded.until_ms')),
    )
    .returning('until_ms')
    .executeTakeFirst();
  // No row back: a longer pause was already there, whose end this process may not know yet.
  if (written) cacheFor(db).set(cacheKey(provider, account), { untilMs: until, readAt: performance.now() });
  else cacheFor(db).delete(cacheKey(provider, account));
}

/**
 * When the pause on `provider`/`account` ends (epoch ms), or null when it is not paused at `now`.
 * Answers from an in-process cache at most `maxStaleMs` old (default PAUSE_CACHE_MS); a pause this
 * process recorded shows at once.
 */
export async function pausedUntil(db: Kysely<any>, provider: string, account: string, now: number, options: { maxStaleMs?: number } = {}): Promise<number | null> {
  const maxStaleMs = Math.min(options.maxStaleMs ?? PAUSE_CACHE_MS, PAUSE_CACHE_MS);
  const key = cacheKey(provider, account);
  const cached = cacheFor(db).get(key);
  if (cached && performance.now() - cached.readAt <= maxStaleMs) return cached.untilMs > now ? cached.untilMs : null;
  const row = await (db as PausesDb)
    .selectFrom('provider_pauses')
    .select('until_ms')
    .where('provider', '=', provider)
    .where('account', '=', account)
    .executeTakeFirst();
  const untilMs = row ? Number(row.until_ms) : 0;
  cacheFor(db).set(key, { untilMs, readAt: performance.now() });
  return untilMs > now ? untilMs : null;
}

/**
 * Lifts a pause at once (an operator who knows the provider is back, or a test): deletes the row and
 * this process's cached answer. Other processes see it within PAUSE_CACHE_MS.
 */
export async function resumeProvider(db: Kysely<any>, provider: string, account: string): Promise<void> {
  await (db as PausesDb).deleteFrom('provider_pauses').where('provider', '=', provider).where('account', '=', account).execute();
  cacheFor(db).delete(cacheKey(provider, account));
}
