import { api, ApiFailure, qs, refundPath, when, type Attempt } from './api';
import { useLive } from './main';

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
}

interface Delivery {
  id: string;
  event: { id: string; type: string; provider: string; account: string; refundId: string };
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  attempts: Attempt[];
}

async function load(): Promise<Array<{ endpoint: Endpoint; deliveries: Delivery[] }>> {
  const endpoints = await api<{ data: Endpoint[] }>('/v1/webhook-endpoints');
  return Promise.all(
    endpoints.data.map(async (endpoint) => ({
      endpoint,
      deliveries: (await api<{ data: Delivery[] }>(`/v1/webhook-endpoints/${encodeURIComponent(endpoint.id)}/deliveries${qs({ limit: 20 })}`)).data,
    })),
  );
}

export function WebhooksPage() {
  const { data, error } = useLive(() => load().catch((e) => {
    if (e instanceof ApiFailure && e.status === 403) throw new Error('Webhook endpoints need an API key with the webhooks:write scope: sign in with one to see them.');
    throw e;
  }), []);
  return (
    <>
      <div class="page-head"><h1 tabIndex={-1}>Webhooks</h1></div>
      {error && <p class="error" role="alert">{error}</p>}
      {!data && !error && <p role="status">Loading…</p>}
      {data && data.length === 0 && <p>No webhook endpoints are registered (POST /v1/webhook-endpoints).</p>}
      {data?.map(({ endpoint, deliveries }) => {
        const failing = deliveries.filter((d) => d.status === 'failed' || (d.status === 'pending' && d.attemptCount > 0)).length;
        return (
          <section class="card" key={endpoint.id} aria-labelledby={`ep-${endpoint.id}`}>
            <h2 id={`ep-${endpoint.id}`}>{endpoint.url}</h2>
            <p class="muted">{endpoint.id} · events: {endpoint.events.join(', ')} · since {when(endpoint.createdAt)} · {failing === 0 ? 'no failures in the latest 20 deliveries' : `${failing} of the latest ${deliveries.length} deliveries failing`}</p>
            <div class="scroll">
              <table>
                <caption class="sr-only">Latest deliveries to {endpoint.url}</caption>
                <thead><tr><th scope="col">Event</th><th scope="col">Refund</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Created</th></tr></thead>
                <tbody>
                  {deliveries.length === 0 && <tr><td colSpan={6}>No deliveries yet.</td></tr>}
                  {deliveries.map((d) => (
                    <tr key={d.id}>
                      <td>{d.event.type}</td>
                      <td><a href={refundPath({ provider: d.event.provider, account: d.event.account, id: d.event.refundId })}>{d.event.refundId}</a></td>
                      <td><span class={`status d-${d.status}`}>{d.status}</span></td>
                      <td class="num">{d.attemptCount}</td>
                      <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
                      <td>{when(d.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        );
      })}
    </>
  );
}
