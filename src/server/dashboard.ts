import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The dashboard's static files (built by `npm run build` into dist/dashboard), served at `/` by
 * every API node. Only our own bundle runs in the page: the Content-Security-Policy allows
 * scripts, styles and connections to this origin alone. Everything else the page shows comes from
 * the documented API routes, with the session cookie in place of a Bearer key.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** dist/dashboard beside the compiled server, or the repository's dist/dashboard when running from src (tests). */
export function dashboardDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, '..', 'dashboard'), join(here, '..', '..', 'dist', 'dashboard')]) if (existsSync(join(dir, 'index.html'))) return resolve(dir);
  return undefined;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
}

export async function dashboardRoutes(api: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const dir = options.dir ?? dashboardDir();
  // Built files never change while the process runs (a new build means a restart), so each is read once.
  const files = new Map<string, Buffer>();
  const read = (name: string): Buffer | undefined => {
    if (!dir) return undefined;
    let body = files.get(name);
    if (body) return body;
    const path = resolve(dir, name);
    if (!path.startsWith(dir + '/') || !existsSync(path)) return undefined;
    body = readFileSync(path);
    if (files.size < 200) files.set(name, body);
    return body;
  };

  api.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const body = read('index.html');
    securityHeaders(reply).header('cache-control', 'no-cache');
    if (!body) return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build` (npm install does it).\n');
    return reply.type(TYPES['.html']!).send(body);
  });

  api.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const name = request.params.file;
    const type = TYPES[extname(name)];
    const body = /^[A-Za-z0-9_.-]{1,128}$/.test(name) && type ? read(join('assets', name)) : undefined;
    if (!body) return reply.code(404).send({ error: { code: 'route_not_found', message: `no dashboard asset ${name.slice(0, 128)}` } });
    // Vite puts a content hash in every asset's name: a changed file is a new URL.
    return securityHeaders(reply).header('cache-control', 'public, max-age=31536000, immutable').type(type!).send(body);
  });
}
