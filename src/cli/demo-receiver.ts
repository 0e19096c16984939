import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RefundEvent } from '../domain/events.js';
import { verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from '../signing/webhook.js';

/**
 * The demo's merchant side: a webhook receiver on 127.0.0.1 that checks each delivery's
 * RefundHub-Signature with the same signing module a merchant would use, and reports it, so a
 * newcomer watching `npm start` sees the webhooks RefundHub sends, not only the API.
 */

export interface DemoDelivery {
  event: RefundEvent;
  valid: boolean;
}

export interface DemoReceiver {
  /** The URL to register as a webhook endpoint. */
  readonly url: string;
  /** The endpoint's signing secret; deliveries are refused until it is set. */
  secret: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** One readable line for a delivery, e.g. `webhook refund.succeeded  ziina abc: pending -> succeeded (provider: completed), signature verified`. */
export function formatDelivery({ event, valid }: DemoDelivery): string {
  const r = event.data?.refund;
  // The provider's own word too: a change it alone makes (pending -> pending) is still an event.
  const change = `${event.data?.previousStatus ?? 'new'} -> ${r?.status ?? '?'} (provider: ${r?.providerStatus ?? '?'})`;
  return `  webhook ${event.type.padEnd(22)} ${r?.provider ?? '?'} ${r?.id ?? '?'}: ${change}, ${valid ? 'signature verified' : 'SIGNATURE INVALID, refused'}`;
}

export async function startDemoReceiver(options: { host?: string; port?: number; onDelivery: (d: DemoDelivery) => void }): Promise<DemoReceiver> {
  const state = { secret: '' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (req.method !== 'POST' || size > MAX_BODY) return void res.writeHead(req.method !== 'POST' ? 405 : 413).end();
      const raw = Buffer.concat(chunks);
      // Verify over the raw bytes, before any parsing: the way every receiver should.
      const valid = state.secret !== '' && verifyWebhook(raw, req.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] as string | undefined, state.secret);
      let event: RefundEvent;
      try {
        event = JSON.parse(raw.toString('utf8')) as RefundEvent;
      } catch {
        return void res.writeHead(400).end();
      }
      options.onDelivery({ event, valid });
      // A refused signature answers 400 so the deliverer records the failure, as a real receiver would.
      res.writeHead(valid ? 204 : 400).end();
    });
    req.on('error', () => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}/hook`,
    get secret() {
      return state.secret;
    },
    set secret(v: string) {
      state.secret = v;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
