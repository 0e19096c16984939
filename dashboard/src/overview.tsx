import { api, duration, qs, refundPath, STATUSES, when } from './api';
import { useLive } from './main';

interface Ref {
  provider: string;
  account: string;
  id: string;
}

interface Overview {
  since: string;
  total: number;
  byStatus: Record<string, number>;
  byProvider: Record<string, { total: number; byStatus: Record<string, number> }>;
  timeToFinal: Array<{ provider: string; count: number; medianMs: number | null; p95Ms: number | null }>;
  stuck: { count: number; refunds: Array<Ref & { status: string; trackedAt: string }> };
  unknown: Array<Ref & { providerStatus: string }>;
  attention: Array<Ref & { kind: string; from: string | null; to: string; providerStatus: string; observedAt: string }>;
  failingEndpoints: Array<{ id: string; url: string; failures: number; lastFailureAt: string }>;
}

export const PERIODS = [
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
] as const;

/** Median and p95 per provider as horizontal bars, drawn here (no chart library, nothing fetched). */
function TimeToFinalChart({ rows }: { rows: Overview['timeToFinal'] }) {
  if (rows.length === 0) return <p>No refund reached a final status in this period.</p>;
  const max = Math.max(...rows.map((r) => r.p95Ms ?? 0), 1);
  const rowH = 44;
  const labelW = 70;
  // Narrow, so the labels stay readable when the figure shrinks to a phone's width.
  const width = 420;
  const barW = (ms: number | null) => Math.max(2, ((ms ?? 0) / max) * (width - labelW - 70));
  return (
    <figure>
      <svg viewBox={`0 0 ${width} ${rows.length * rowH + 24}`} role="img" aria-labelledby="ttf-title" class="chart">
        <title id="ttf-title">Time to final status per provider: median and 95th percentile</title>
        {rows.map((r, i) => {
          const y = i * rowH + 4;
          return (
            <g key={r.provider}>
              <text x={0} y={y + 22} class="chart-label">{r.provider}</text>
              <rect x={labelW} y={y + 2} width={barW(r.medianMs)} height={16} class="bar-median" />
              <text x={labelW + barW(r.medianMs) + 6} y={y + 15} class="chart-value">{duration(r.medianMs)}</text>
              <rect x={labelW} y={y + 21} width={barW(r.p95Ms)} height={16} class="bar-p95" />
              <text x={labelW + barW(r.p95Ms) + 6} y={y + 34} class="chart-value">{duration(r.p95Ms)}</text>
            </g>
          );
        })}
        <g transform={`translate(${labelW}, ${rows.length * rowH + 8})`}>
          <rect width={12} height={12} class="bar-median" />
          <text x={16} y={11} class="chart-value">median</text>
          <rect x={90} width={12} height={12} class="bar-p95" />
          <text x={106} y={11} class="chart-value">p95</text>
        </g>
      </svg>
      <figcaption>
        <details>
          <summary>As a table</summary>
          <table>
            <thead><tr><th scope="col">Provider</th><th scope="col">Final refunds</th><th scope="col">Median</th><th scope="col">p95</th></tr></thead>
            <tbody>{rows.map((r) => <tr key={r.provider}><th scope="row">{r.provider}</th><td>{r.count}</td><td>{duration(r.medianMs)}</td><td>{duration(r.p95Ms)}</td></tr>)}</tbody>
          </table>
        </details>
      </figcaption>
    </figure>
  );
}

const RefundLink = ({ r }: { r: Ref }) => <a href={refundPath(r)}>{r.provider} {r.id}</a>;

export function OverviewPage({ query }: { query: URLSearchParams }) {
  const since = query.get('since') ?? '7d';
  const { data, error } = useLive(() => api<Overview>(`/v1/stats/overview${qs({ since })}`), [since]);
  const providers = data ? Object.keys(data.byProvider).sort() : [];
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Overview</h1>
        <label class="inline">
          Period{' '}
          <select value={since} onChange={(e) => (location.hash = `#/overview${qs({ since: (e.target as HTMLSelectElement).value })}`)}>
            {PERIODS.map(([v, l]) => <option value={v} key={v}>{l}</option>)}
          </select>
        </label>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!data && !error && <p role="status">Loading…</p>}
      {data && (
        <div class="grid">
          <section class="card wide" aria-labelledby="counts-h">
            <h2 id="counts-h">Refunds by status and provider ({data.total} tracked)</h2>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Provider</th>
                    {STATUSES.map((s) => <th scope="col" key={s}>{s.replace('_', ' ')}</th>)}
                    <th scope="col">Total</th>
                  </tr>
                </thead>
                <tbody>
                  {providers.map((p) => (
                    <tr key={p}>
                      <th scope="row"><a href={`#/refunds${qs({ provider: p })}`}>{p}</a></th>
                      {STATUSES.map((s) => <td key={s}>{data.byProvider[p]!.byStatus[s] ?? 0}</td>)}
                      <td>{data.byProvider[p]!.total}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row">All</th>
                    {STATUSES.map((s) => <td key={s}><a href={`#/refunds${qs({ status: s })}`}>{data.byStatus[s] ?? 0}</a></td>)}
                    <td>{data.total}</td>
                  </tr>
                </tfoot>
              </table>
            </div>
          </section>
          <section class="card wide" aria-labelledby="ttf-h">
            <h2 id="ttf-h">Time to final status</h2>
            <TimeToFinalChart rows={data.timeToFinal} />
          </section>
          <section class="card" aria-labelledby="stuck-h">
            <h2 id="stuck-h">Stuck ({data.stuck.count})</h2>
            {data.stuck.refunds.length === 0 ? <p>No refund is stuck past its provider's threshold.</p> : (
              <ul>{data.stuck.refunds.map((r) => <li key={r.provider + r.id}><RefundLink r={r} /> — {r.status}, tracked {when(r.trackedAt)}</li>)}</ul>
            )}
            {data.stuck.count > 0 && <p><a href={`#/refunds${qs({ stuck: 'true' })}`}>All stuck refunds</a></p>}
          </section>
          <section class="card" aria-labelledby="attn-h">
            <h2 id="attn-h">Needs attention</h2>
            {data.unknown.length === 0 && data.attention.length === 0 ? <p>No unknown statuses, reversals or stale reads in this period.</p> : (
              <ul>
                {data.unknown.map((r) => <li key={'u' + r.provider + r.id}><RefundLink r={r} /> — unknown status “{r.providerStatus}”</li>)}
                {data.attention.map((r, i) => (
                  <li key={'a' + i}><RefundLink r={r} /> — {r.kind === 'reversal' ? `reversal ${r.from} → ${r.to}` : `stale read “${r.providerStatus}”`}, {when(r.observedAt)}</li>
                ))}
              </ul>
            )}
          </section>
          <section class="card" aria-labelledby="failing-h">
            <h2 id="failing-h">Failing webhook endpoints</h2>
            {data.failingEndpoints.length === 0 ? <p>No failed or retrying deliveries in this period.</p> : (
              <ul>{data.failingEndpoints.map((e) => <li key={e.id}><a href="#/webhooks">{e.url}</a> — {e.failures} failing, last {when(e.lastFailureAt)}</li>)}</ul>
            )}
          </section>
        </div>
      )}
    </>
  );
}
