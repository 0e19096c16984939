import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Db } from '../store/index.js';
import { errorResponses } from './schemas.js';

/**
 * `GET /v1/live`: server-sent events, one `refund` event per new history row (status change,
 * reversal, anomaly, stuck mark). The feed polls the database, not this process's memory, so a
 * change written by another API node or a worker reaches every open page within a poll interval
 * plus the page's own refetch. One poller per process serves all its streams, and it runs only
 * while a stream is open.
 */

/** Why 1 s: the issue allows 5 s end to end, and one indexed range read per second per node is nothing. */
export const LIVE_POLL_MS = 1_000;
/** Comment lines keep idle streams alive through proxies and our own idle-socket timeout (60 s). */
const HEARTBEAT_MS = 15_000;
/**
 * On PostgreSQL an identity id is taken when a transaction inserts, not when it commits, so a row
 * with a lower id can appear after a higher one was seen. The feed re-reads this many ids below
 * the highest it has seen and skips those already sent.
 */
const REREAD_IDS = 500;
const MAX_ROWS_PER_POLL = 500;

export interface LiveChange {
  historyId: number;
  provider: string;
  account: string;
  id: string;
  kind: string;
  from: string | null;
  to: string;
  observedAt: string;
}

export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private highest: number | undefined;
  /** The newest id when the first stream opened: older rows are history, not news. */
  private startId = 0;
  private readonly sent = new Set<number>();
  private polling = false;

  constructor(
    private readonly db: Db,
    private readonly onError: (err: unknown) => void,
    private readonly pollMs = LIVE_POLL_MS,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  async add(res: ServerResponse): Promise<void> {
    if (this.highest === undefined) {
      this.highest = await this.maxId();
      this.startId = this.highest;
    }
    this.clients.add(res);
    res.on('close', () => this.remove(res));
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    }
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stopTimers();
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
    // The next first client starts from the newest row, not from what happened while nobody watched.
    this.highest = undefined;
    this.sent.clear();
  }

  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopTimers();
  }

  private async maxId(): Promise<number> {
    const row = await this.db.selectFrom('refund_history').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
    return Number(row?.m ?? 0);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.highest === undefined) return;
    this.polling = true;
    try {
      const floor = Math.max(0, this.highest - REREAD_IDS);
      const rows = await this.db
        .selectFrom('refund_history')
        .select(['id', 'provider', 'account', 'refund_id', 'kind', 'from_status', 'to_status', 'observed_at'])
        .where('id', '>', floor)
        .orderBy('id')
        .limit(REREAD_IDS + MAX_ROWS_PER_POLL)
        .execute();
      for (const r of rows) {
        const id = Number(r.id);
        if (id <= floor || this.sent.has(id) || id <= this.startId) continue;
        this.sent.add(id);
        if (id > this.highest) this.highest = id;
        const change: LiveChange = {
          historyId: id,
          provider: r.provider,
          account: r.account,
          id: r.refund_id,
          kind: r.kind,
          from: r.from_status,
          to: r.to_status,
          observedAt: new Date(Number(r.observed_at)).toISOString(),
        };
        this.broadcast(`event: refund\nid: ${id}\ndata: ${JSON.stringify(change)}\n\n`);
      }
      // Only ids inside the re-read window can come back; older ones are forgotten.
      for (const id of this.sent) if (id <= this.highest - REREAD_IDS) this.sent.delete(id);
    } catch (err) {
      this.onError(err);
    } finally {
      this.polling = false;
    }
  }

  private broadcast(text: string): void {
    for (const res of this.clients) res.write(text);
  }
}

export async function liveRoutes(api: FastifyInstance, { feed }: { feed: LiveFeed }): Promise<void> {
  // Before the server stops accepting: an open stream never ends by itself, and close() would wait for it.
  api.addHook('preClose', async () => feed.close());
  api.get('/v1/live', {
    config: { scope: 'refunds:read' },
    schema: {
      tags: ['refunds'],
      summary: 'Live refund changes (server-sent events)',
      operationId: 'streamRefundChanges',
      description:
        'A `text/event-stream`: an `event: refund` message with `{historyId, provider, account, id, kind, from, to, observedAt}` for every new history row written by any node or worker, ' +
        `within about ${LIVE_POLL_MS / 1000} s. Starts from now (no replay). Comment lines every ${HEARTBEAT_MS / 1000} s keep it open.`,
      security: [{ bearerAuth: [] }],
      produces: ['text/event-stream'],
      response: { 200: { type: 'string', description: 'An event stream' }, ...errorResponses(401, 403) },
    },
  }, async (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-request-id': request.id,
      // Tells a buffering proxy (nginx) to pass each event on at once.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    await feed.add(res);
  });
}
