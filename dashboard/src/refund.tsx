import { useContext, useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, qs, when, type Attempt, type HistoryEntry, type Refund } from './api';
import { SessionContext, useLive } from './main';

interface WebhookEvent {
  id: string;
  type: string;
  created: number;
  sequence: number;
  deliveries: Array<{ id: string; endpointId: string; endpointUrl: string; status: string; attemptCount: number; nextAttemptAt: string | null; lastStatusCode: number | null; lastError: string | null; attempts: Attempt[] }>;
}

const SOURCE_LABEL: Record<string, string> = { poll: 'poll', notification: 'notification', api: 'API', manual: 'manual' };

export function RefundPage({ provider, account, id }: { provider: string; account: string; id: string }) {
  const session = useContext(SessionContext);
  const base = `/v1/refunds/${encodeURIComponent(provider)}/${encodeURIComponent(id)}`;
  const a = qs({ account });
  const { data, error, reload } = useLive(
    () => Promise.all([api<Refund>(base + a), api<{ data: HistoryEntry[] }>(`${base}/events${a}`), api<{ data: WebhookEvent[] }>(`${base}/webhook-events${a}`)]),
    [base, a],
  );
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const canWrite = session?.scopes.includes('refunds:write') ?? false;
  const canRedeliver = session?.scopes.includes('webhooks:write') ?? false;

  const act = async (label: string, run: () => Promise<string>) => {
    setBusy(label);
    setMessage(null);
    try {
      setMessage({ text: await run(), error: false });
      reload();
    } catch (e) {
      setMessage({ text: e instanceof ApiFailure ? e.message : String(e), error: true });
    } finally {
      setBusy(null);
    }
  };

  const [refund, history, events] = data ?? [];
  // Only OneKey hands out a proof, and only for a completed refund: for those, ask the voucher route
  // (a HEAD, with the session cookie like every dashboard call) whether it has one, rather than probing
  // every pending refund (each probe is a provider call, and a 404 logs a console error).
  const [proof, setProof] = useState(false);
  const proofKey = refund?.provider === 'onekey' && refund.status === 'succeeded' ? `${base}${a}` : null;
  useEffect(() => {
    setProof(false);
    if (!proofKey) return;
    let live = true;
    fetch(`${base}/voucher${a}`, { method: 'HEAD', credentials: 'same-origin' }).then((r) => live && setProof(r.ok), () => undefined);
    return () => { live = false; };
  }, [proofKey]);
  const anomalies = history?.data.filter((h) => h.kind === 'anomaly' || h.kind === 'reversal' || h.kind === 'stuck') ?? [];
  return (
    <>
      <p class="crumbs"><a href="#/refunds">Refunds</a> / {provider} / {account}</p>
      <div class="page-head">
        <h1 tabIndex={-1}>Refund {id}</h1>
        <button
          type="button"
          disabled={busy !== null || !canWrite}
          title={canWrite ? undefined : 'Needs an API key with refunds:write'}
          onClick={() => act('refresh', async () => {
            const r = await api<Refund>(`${base}/refresh${a}`, { method: 'POST' });
            return `Refreshed from ${provider}: ${r.status} (${r.providerStatus}).`;
          })}
        >
          {busy === 'refresh' ? 'Refreshing…' : 'Refresh now'}
        </button>
        {proof && <a class="button secondary" href={`${base}/voucher${a}`} download={`refund-${id}.pdf`}>Download proof of refund</a>}
      </div>
      {message && <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>{message.text}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {!data && !error && <p role="status">Loading…</p>}
      {refund && (
        <div class="grid">
          <section class="card" aria-labelledby="fields-h">
            <h2 id="fields-h">Refund</h2>
            <dl class="fields">
              <dt>Status</dt><dd><span class={`status s-${refund.status}`} data-testid="refund-status">{refund.status.replace('_', ' ')}</span> <span class="muted">({refund.providerStatus})</span></dd>
              <dt>Provider</dt><dd>{refund.provider}</dd>
              <dt>Account</dt><dd>{refund.account}</dd>
              <dt>Payment</dt><dd>{refund.paymentId ?? '—'}</dd>
              <dt>Amount</dt><dd>{refund.amountDecimal ?? '—'} {refund.currency ?? ''}</dd>
              {refund.merchantReference && (<><dt>Merchant reference</dt><dd data-testid="merchant-reference">{refund.merchantReference}</dd></>)}
              {refund.customerReceives && (<><dt>Customer receives</dt><dd>{refund.customerReceives.amountDecimal} {refund.customerReceives.currency}</dd></>)}
              {refund.providerReference && (<><dt>Provider reference</dt><dd>{refund.providerReference}</dd></>)}
              {refund.metadata && Object.keys(refund.metadata).length > 0 && (<><dt>Metadata</dt><dd><dl class="meta">{Object.entries(refund.metadata).map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}</dl></dd></>)}
              <dt>Reason</dt><dd>{refund.reason ?? '—'}</dd>
              <dt>Created</dt><dd>{when(refund.createdAt)}</dd>
              <dt>Updated</dt><dd>{when(refund.updatedAt)}</dd>
              {refund.failure && (<><dt>Failure</dt><dd>{refund.failure.code ?? ''} {refund.failure.message ?? ''}</dd></>)}
              <dt>Tracked</dt><dd>{when(refund.tracking.trackedAt)}</dd>
              <dt>Last checked</dt><dd>{when(refund.tracking.lastCheckedAt)}</dd>
              <dt>Next check</dt><dd>{when(refund.tracking.nextCheckAt)}</dd>
              <dt>Final</dt><dd>{when(refund.tracking.finalAt)}</dd>
              {refund.tracking.stuck && (<><dt>Stuck</dt><dd>yes</dd></>)}
              {refund.tracking.lastError && (<><dt>Last error</dt><dd>{refund.tracking.lastError.code}: {refund.tracking.lastError.message}</dd></>)}
            </dl>
          </section>
          <section class="card" aria-labelledby="anomalies-h">
            <h2 id="anomalies-h">Anomalies</h2>
            {anomalies.length === 0 ? <p>None: no stale reads, unknown words, reversals or stuck marks.</p> : (
              <ul>{anomalies.map((h) => <li key={h.id}>{when(h.observedAt)}: {h.kind} {h.from ? `${h.from} → ` : ''}{h.to} (“{h.providerStatus}”){h.note ? ` — ${h.note}` : ''}</li>)}</ul>
            )}
          </section>
          <section class="card wide" aria-labelledby="timeline-h">
            <h2 id="timeline-h">Timeline</h2>
            <ol class="timeline">
              {history!.data.map((h) => (
                <li key={h.id}>
                  <time dateTime={h.observedAt}>{when(h.observedAt)}</time>{' '}
                  <strong>{h.kind === 'tracked' ? `tracked as ${h.to}` : h.from && h.from !== h.to ? `${h.from} → ${h.to}` : `${h.kind}: ${h.to}`}</strong>{' '}
                  <span class="muted">“{h.providerStatus}” via {SOURCE_LABEL[h.source] ?? h.source}</span>
                  {h.note && <span class="muted"> — {h.note}</span>}
                  <details>
                    <summary>Raw payload</summary>
                    <pre tabIndex={0}>{JSON.stringify(h.raw, null, 2)}</pre>
                  </details>
                </li>
              ))}
            </ol>
          </section>
          <section class="card wide" aria-labelledby="events-h">
            <h2 id="events-h">Outgoing events</h2>
            {events!.data.length === 0 ? <p>No events yet.</p> : (
              <ul class="events">
                {events!.data.map((e) => (
                  <li key={e.id}>
                    <div class="event-head">
                      <span><strong>{e.type}</strong> <code>{e.id}</code> <span class="muted">#{e.sequence}, {when(new Date(e.created * 1000).toISOString())}</span></span>
                      <button
                        type="button"
                        class="secondary"
                        disabled={busy !== null || !canRedeliver}
                        title={canRedeliver ? undefined : 'Needs an API key with webhooks:write'}
                        aria-label={`Redeliver ${e.type} ${e.id}`}
                        onClick={() => act(e.id, async () => {
                          const r = await api<{ deliveries: number }>(`/v1/events/${encodeURIComponent(e.id)}/redeliver`, { method: 'POST' });
                          return `Redelivery of ${e.id} queued to ${r.deliveries} endpoint${r.deliveries === 1 ? '' : 's'}.`;
                        })}
                      >
                        Redeliver
                      </button>
                    </div>
                    {e.deliveries.length === 0 ? <p class="muted">No endpoint was subscribed.</p> : (
                      // On a phone the table scrolls sideways rather than squeezing each row into a tall
                      // column; a scrolling box must be reachable by keyboard, hence the tabindex and label.
                      <div class="scroll" tabIndex={0} role="region" aria-label={`Deliveries of ${e.id}`}>
                        <table class="deliveries">
                          <thead><tr><th scope="col">Endpoint</th><th scope="col">Delivery</th><th scope="col">Attempts</th></tr></thead>
                          <tbody>
                            {e.deliveries.map((d) => (
                              <tr key={d.id}>
                                <td>{d.endpointUrl}</td>
                                <td><span class={`status d-${d.status}`}>{d.status}</span>{d.nextAttemptAt && d.status === 'pending' ? ` (next ${when(d.nextAttemptAt)})` : ''}</td>
                                <td>
                                  {d.attempts.length === 0 ? 'none yet' : (
                                    <ol class="attempts">
                                      {d.attempts.map((t, i) => <li key={i}>{when(t.attemptedAt)}: {t.statusCode ?? t.error ?? '?'} in {t.durationMs} ms</li>)}
                                    </ol>
                                  )}
                                </td>
                              </tr>
                            ))}
                          </tbody>
                        </table>
                      </div>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      )}
    </>
  );
}
