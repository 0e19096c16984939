import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventType, RefundEvent } from '../../src/domain/events.js';
import { createStore, type Db, type Store } from '../../src/store/index.js';
import { enqueueDeliveries } from '../../src/notify/outbox.js';

/** A migrated store on a fresh SQLite file in its own temp dir. */
export async function openTempStore(): Promise<{ store: Store; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'refundhub-notify-'));
  const store = await createStore(`sqlite:${join(dir, 'test.db')}`);
  return {
    store,
    dir,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;

/** A well-formed event as the spine would build it. */
export function makeEvent(type: EventType = 'refund.succeeded', nowMs: number = Date.UTC(2026, 0, 1)): RefundEvent {
  seq += 1;
  const iso = new Date(nowMs).toISOString();
  return {
    id: `evt_${randomBytes(12).toString('base64url')}`,
    type,
    created: Math.floor(nowMs / 1000),
    sequence: seq,
    data: {
      refund: {
        provider: 'ziina',
        account: 'default',
        id: `rf_${seq}`,
        paymentId: 'pi_1',
        status: 'succeeded',
        providerStatus: 'completed',
        amount: 1050,
        currency: 'AED',
        amountDecimal: '10.50',
        reason: null,
        createdAt: iso,
        updatedAt: iso,
        failure: null,
        merchantReference: null,
        customerReceives: null,
        metadata: null,
        providerReference: null,
        raw: { id: `rf_${seq}`, status: 'completed' },
        tracking: { trackedAt: iso, lastCheckedAt: iso, nextCheckAt: null, checkCount: 1, stuck: false, finalAt: iso, lastError: null },
      },
      previousStatus: 'pending',
    },
  };
}

/** Inserts the event row and enqueues its deliveries in one transaction, as syncRefund does. */
export async function insertEvent(db: Db, event: RefundEvent, now: number): Promise<number> {
  return db.transaction().execute(async (tx) => {
    await tx
      .insertInto('events')
      .values({
        id: event.id,
        type: event.type,
        provider: event.data.refund.provider,
        account: event.data.refund.account,
        refund_id: event.data.refund.id,
        sequence: event.sequence,
        created: event.created,
        payload: JSON.stringify(event),
      })
      .execute();
    return enqueueDeliveries(tx, event, now);
  });
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A real HTTP receiver on 127.0.0.1; `respond` picks each answer's status. */
export async function startReceiver(respond: (req: ReceivedRequest, index: number) => number | Promise<number> = () => 200): Promise<{
  url: string;
  requests: ReceivedRequest[];
  setRespond(fn: (req: ReceivedRequest, index: number) => number | Promise<number>): void;
  close(): Promise<void>;
}> {
  const requests: ReceivedRequest[] = [];
  let handler = respond;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      const index = requests.length;
      requests.push(received);
      Promise.resolve(handler(received, index)).then(
        (status) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    setRespond(fn) {
      handler = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
