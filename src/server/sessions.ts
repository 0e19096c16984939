import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../store/index.js';
import { API_KEY_RE, hasScope, isApiScope, type ApiScope, type VerifiedKey } from './auth.js';
import { ApiError } from './errors.js';
import { errorResponses } from './schemas.js';

/**
 * Dashboard sessions. A browser signs in once with an API key (POST /v1/sessions) and from then on
 * sends an HttpOnly, SameSite=Strict cookie instead of the key, so the key never sits in
 * localStorage or a URL. Only the cookie's SHA-256 is stored (table `dashboard_sessions`), so
 * every API node recognises it and a sign-out or a revoked key ends it on all of them at once.
 * Requests that change something must also carry the session's CSRF token in `x-csrf-token`:
 * SameSite=Strict already keeps cross-site requests cookieless; the token covers older browsers
 * and same-site subdomains.
 */

export const SESSION_COOKIE = 'refundhub_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A working day: long enough not to interrupt a shift, short enough that a forgotten browser does not stay signed in. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
/** Derived from the cookie, so nothing more is stored and only a holder of the cookie can know it. */
export const csrfTokenFor = (token: string): string => createHash('sha256').update(`csrf\u0000${token}`, 'utf8').digest('base64url');

export interface Session {
  keyId: string;
  scopes: ApiScope[];
  expiresAt: number;
  csrfToken: string;
}

/** The cookie's value from a Cookie header, when it is shaped like one of ours. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const v = part.slice(eq + 1).trim();
    return TOKEN_RE.test(v) ? v : undefined;
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class SessionStore {
  /** The session each authenticated request came with (sign-out and `GET /v1/sessions/current` need it). */
  private readonly byRequest = new WeakMap<FastifyRequest, { token: string; session: Session }>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    readonly ttlMs = DEFAULT_SESSION_TTL_MS,
  ) {}

  async create(keyId: string): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(32).toString('base64url');
    const t = this.now();
    const expiresAt = t + this.ttlMs;
    await this.db.insertInto('dashboard_sessions').values({ id_hash: sha256(token), key_id: keyId, created_at: t, expires_at: expiresAt }).execute();
    // Expired rows are swept as new sessions start: no timer, and the table stays as small as the signed-in browsers.
    await this.db.deleteFrom('dashboard_sessions').where('expires_at', '<=', t).execute();
    return { token, expiresAt };
  }

  /** The live session for a cookie: not expired, and its API key not revoked (read every time, so revocation is immediate on every node). */
  async find(token: string): Promise<Session | null> {
    const row = await this.db
      .selectFrom('dashboard_sessions as s')
      .innerJoin('api_keys as k', 'k.id', 's.key_id')
      .select(['s.key_id', 's.expires_at', 'k.scopes', 'k.revoked_at'])
      .where('s.id_hash', '=', sha256(token))
      .executeTakeFirst();
    if (!row || row.revoked_at != null || Number(row.expires_at) <= this.now()) return null;
    let scopes: ApiScope[] = [];
    try {
      const v: unknown = JSON.parse(row.scopes);
      if (Array.isArray(v)) scopes = v.filter(isApiScope);
    } catch {
      scopes = [];
    }
    return { keyId: row.key_id, scopes, expiresAt: Number(row.expires_at), csrfToken: csrfTokenFor(token) };
  }

  async delete(token: string): Promise<void> {
    await this.db.deleteFrom('dashboard_sessions').where('id_hash', '=', sha256(token)).execute();
  }

  /**
   * Authorizes a request that came with a session cookie instead of a Bearer key: undefined when
   * allowed, else the error to answer with. Unsafe methods need the CSRF header.
   */
  async authorize(request: FastifyRequest, token: string, scope: ApiScope): Promise<ApiError | undefined> {
    const session = await this.find(token);
    if (!session) return new ApiError(401, 'unauthorized', 'your session has expired or was signed out: sign in again');
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      const a = Buffer.from(typeof sent === 'string' ? sent : '');
      const b = Buffer.from(session.csrfToken);
      if (a.length !== b.length || !timingSafeEqual(a, b)) return new ApiError(403, 'forbidden', `missing or wrong ${CSRF_HEADER} header for this session`);
    }
    if (!hasScope(session.scopes, scope)) return new ApiError(403, 'forbidden', `the API key you signed in with lacks the ${scope} scope`);
    this.byRequest.set(request, { token, session });
    return undefined;
  }

  sessionOf(request: FastifyRequest): { token: string; session: Session } | undefined {
    return this.byRequest.get(request);
  }
}

function cookieHeader(request: FastifyRequest, value: string, maxAgeSeconds: number): string {
  // Secure only over HTTPS: a Secure cookie is never sent back over plain http://127.0.0.1.
  const secure = request.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

const SESSION_SCHEMA = {
  type: 'object',
  required: ['scopes', 'expiresAt', 'csrfToken'],
  properties: {
    scopes: { type: 'array', items: { type: 'string' } },
    expiresAt: { type: 'string', format: 'date-time' },
    csrfToken: { type: ['string', 'null'], description: `Send as ${CSRF_HEADER} on POST and DELETE made with the session cookie; null for Bearer keys` },
  },
} as const;

export interface SessionRoutesOptions {
  sessions: SessionStore;
  verifyKey(key: string): Promise<VerifiedKey | null>;
}

/** `/v1/sessions`: sign in, who am I, sign out. */
export async function sessionRoutes(api: FastifyInstance, { sessions, verifyKey }: SessionRoutesOptions): Promise<void> {
  api.post<{ Body: { apiKey: string } }>('/v1/sessions', {
    schema: {
      tags: ['sessions'],
      summary: 'Sign in to the dashboard with an API key',
      operationId: 'createSession',
      description:
        'Exchanges an API key with refunds:read (actions need refunds:write or webhooks:write, as on the API) for an HttpOnly, SameSite=Strict session cookie ' +
        `(\`${SESSION_COOKIE}\`, Secure over HTTPS, expires after 12 hours). The key is not stored in the browser. Unsafe requests made with the cookie must send the returned csrfToken as \`${CSRF_HEADER}\`.`,
      security: [],
      body: { type: 'object', required: ['apiKey'], additionalProperties: false, properties: { apiKey: { type: 'string', minLength: 1, maxLength: 256 } } },
      response: { 201: { description: 'Signed in; the cookie is set', ...SESSION_SCHEMA }, ...errorResponses(400, 401, 403, 413, 415) },
    },
  }, async (request, reply) => {
    const key = request.body.apiKey.trim();
    const verified = API_KEY_RE.test(key) ? await verifyKey(key) : null;
    if (!verified) throw new ApiError(401, 'unauthorized', 'That API key is not valid: it is unknown, revoked or mistyped.');
    if (!hasScope(verified.scopes, 'refunds:read')) throw new ApiError(403, 'forbidden', 'That API key lacks the refunds:read scope the dashboard needs.');
    const { token, expiresAt } = await sessions.create(verified.id);
    reply.header('set-cookie', cookieHeader(request, token, Math.floor(sessions.ttlMs / 1000)));
    reply.header('cache-control', 'no-store');
    return reply.code(201).send({ scopes: verified.scopes, expiresAt: new Date(expiresAt).toISOString(), csrfToken: csrfTokenFor(token) });
  });

  api.get('/v1/sessions/current', {
    config: { scope: 'refunds:read' },
    schema: {
      tags: ['sessions'],
      summary: 'The current session (or Bearer key): its scopes and CSRF token',
      operationId: 'getCurrentSession',
      description: 'Answers with the session cookie or a Bearer key; the dashboard calls it on load to learn whether it is signed in.',
      security: [{ bearerAuth: [] }],
      response: { 200: SESSION_SCHEMA, ...errorResponses(401, 403) },
    },
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const s = sessions.sessionOf(request);
    if (!s) return { scopes: [], expiresAt: new Date(0).toISOString(), csrfToken: null };
    return { scopes: s.session.scopes, expiresAt: new Date(s.session.expiresAt).toISOString(), csrfToken: s.session.csrfToken };
  });

  api.delete('/v1/sessions/current', {
    config: { scope: 'refunds:read' },
    schema: {
      tags: ['sessions'],
      summary: 'Sign out',
      operationId: 'deleteCurrentSession',
      description: `Ends the session on every node and clears the cookie. Needs \`${CSRF_HEADER}\`.`,
      security: [{ bearerAuth: [] }],
      response: { 204: { type: 'null', description: 'Signed out' }, ...errorResponses(401, 403) },
    },
  }, async (request: FastifyRequest, reply: FastifyReply) => {
    const s = sessions.sessionOf(request);
    if (s) await sessions.delete(s.token);
    reply.header('set-cookie', cookieHeader(request, '', 0));
    return reply.code(204).send();
  });
}

