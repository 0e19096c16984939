import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/**
 * A real HTTP hop between a connector and a provider stand-in (the emulator, or a Prism mock)
 * that can rewrite the JSON body of 2xx answers: it plays a misrouting proxy or cache that
 * answers for another refund, or makes a generated mock echo the id that was asked for.
 * Requests go through unchanged (method, path, query, headers).
 */
export interface RewritingProxy {
  /** The proxy's origin, `http://127.0.0.1:PORT`. */
  url: string;
  /** Base URL on the proxy standing for `targetBase` (same path prefix). */
  base(targetBase: string): string;
  /** Sets (or clears, with null) the rewrite applied to the next 2xx JSON bodies. */
  rewrite(fn: ((body: unknown, requestPath: string) => unknown) | null): void;
  close(): Promise<void>;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startRewritingProxy(targetOrigin: string): Promise<RewritingProxy> {
  let rewriter: ((body: unknown, requestPath: string) => unknown) | null = null;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (k === 'host' || k === 'connection' || k === 'content-length' || v === undefined) continue;
        headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      const upstream = await request(targetOrigin + (req.url ?? '/'), {
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: body.length ? body : undefined,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      let out = Buffer.from(await upstream.body.arrayBuffer());
      const type = String(upstream.headers['content-type'] ?? '');
      if (rewriter && upstream.statusCode >= 200 && upstream.statusCode < 300 && type.includes('json')) {
        out = Buffer.from(JSON.stringify(rewriter(JSON.parse(out.toString('utf8')), new URL(req.url ?? '/', 'http://x').pathname)));
      }
      const pass: Record<string, string> = {};
      for (const [k, v] of Object.entries(upstream.headers)) {
        if (k === 'content-length' || k === 'transfer-encoding' || k === 'connection' || v === undefined) continue;
        pass[k] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      res.writeHead(upstream.statusCode, { ...pass, 'content-length': String(out.length) });
      res.end(out);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":"proxy could not reach the target"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    base(targetBase) {
      const t = new URL(targetBase);
      return url + t.pathname.replace(/\/+$/, '');
    },
    rewrite(fn) {
      rewriter = fn;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
