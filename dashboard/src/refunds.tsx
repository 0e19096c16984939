import { useMemo, useRef, useState } from 'preact/hooks';
import { api, PROVIDERS, qs, refundPath, STATUSES, when, type Refund } from './api';
import { useLive } from './main';
import { PERIODS } from './overview';

interface Page {
  data: Refund[];
  nextCursor: string | null;
}

const FILTERS = ['provider', 'status', 'account', 'stuck', 'period', 'q', 'order'] as const;
const PERIOD_MS: Record<string, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };
const EXPORT_MAX_ROWS = 50_000;

const CSV_COLUMNS = ['provider', 'account', 'id', 'paymentId', 'status', 'providerStatus', 'amountDecimal', 'currency', 'createdAt', 'updatedAt', 'trackedAt', 'finalAt', 'stuck'] as const;

function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  // A cell starting with = + - @ is a formula to a spreadsheet: quote it so an id cannot run one.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function toCsvRow(r: Refund): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    provider: r.provider, account: r.account, id: r.id, paymentId: r.paymentId, status: r.status, providerStatus: r.providerStatus,
    amountDecimal: r.amountDecimal, currency: r.currency, createdAt: r.createdAt, updatedAt: r.updatedAt,
    trackedAt: r.tracking.trackedAt, finalAt: r.tracking.finalAt, stuck: r.tracking.stuck,
  };
  return CSV_COLUMNS.map((c) => csvCell(values[c])).join(',');
}

export function RefundsPage({ query }: { query: URLSearchParams }) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const order = f.order === 'asc' ? 'asc' : 'desc';
  // Fixed when the period is chosen, so live refetches ask for the same rows.
  const createdFrom = useMemo(() => (PERIOD_MS[f.period] ? new Date(Date.now() - PERIOD_MS[f.period]!).toISOString() : undefined), [f.period]);
  const filterKey = JSON.stringify(f);
  const [cursors, setCursors] = useState<{ key: string; stack: string[] }>({ key: filterKey, stack: [] });
  const stack = cursors.key === filterKey ? cursors.stack : [];
  const cursor = stack[stack.length - 1];
  const params = { provider: f.provider, status: f.status, account: f.account, stuck: f.stuck === 'true' ? 'true' : undefined, q: f.q, order, createdFrom };
  const { data, error } = useLive(() => api<Page>(`/v1/refunds${qs({ ...params, limit: 50, cursor })}`), [filterKey, cursor]);
  const [exporting, setExporting] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);

  const set = (changes: Partial<Record<(typeof FILTERS)[number], string>>) => {
    location.hash = `#/refunds${qs({ ...f, ...changes })}`;
  };

  const exportCsv = async () => {
    setExporting('Exporting…');
    try {
      const lines = [CSV_COLUMNS.join(',')];
      let next: string | null = null;
      do {
        const page: Page = await api<Page>(`/v1/refunds${qs({ ...params, limit: 500, cursor: next })}`);
        for (const r of page.data) lines.push(toCsvRow(r));
        next = page.nextCursor;
      } while (next && lines.length <= EXPORT_MAX_ROWS);
      const blob = new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'refunds.csv';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      setExporting(`Exported ${lines.length - 1} refunds${next ? ` (the first ${EXPORT_MAX_ROWS}; narrow the filters for the rest)` : ''}.`);
    } catch (e) {
      setExporting(`Export failed: ${(e as Error).message}`);
    }
  };

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Refunds</h1>
        <button type="button" class="secondary" onClick={exportCsv}>Export CSV</button>
      </div>
      {exporting && <p role="status">{exporting}</p>}
      <form
        class="filters card"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ q: searchRef.current?.value.trim() ?? '' });
        }}
      >
        <label>
          Provider
          <select value={f.provider} onChange={(e) => set({ provider: (e.target as HTMLSelectElement).value })}>
            <option value="">All</option>
            {PROVIDERS.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <label>
          Status
          <select value={f.status} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value })}>
            <option value="">All</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s.replace('_', ' ')}</option>)}
          </select>
        </label>
        <label>
          Account
          <input value={f.account} placeholder="default" onChange={(e) => set({ account: (e.target as HTMLInputElement).value.trim() })} />
        </label>
        <label>
          Created
          <select value={f.period} onChange={(e) => set({ period: (e.target as HTMLSelectElement).value })}>
            <option value="">Any time</option>
            {PERIODS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={f.stuck === 'true'} onChange={(e) => set({ stuck: (e.target as HTMLInputElement).checked ? 'true' : '' })} />
          Stuck only
        </label>
        <span class="search">
          <label for="search">Search</label>
          <input id="search" type="search" ref={searchRef} defaultValue={f.q} key={f.q} placeholder="Refund id, payment id or merchant reference" />
          <button type="submit">Find</button>
          {f.q && <button type="button" class="secondary" onClick={() => set({ q: '' })}>Clear</button>}
        </span>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="scroll card">
        <table class="refunds">
          <caption class="sr-only">Tracked refunds, {order === 'desc' ? 'newest' : 'oldest'} tracked first</caption>
          <thead>
            <tr>
              <th scope="col">Refund</th>
              <th scope="col">Provider</th>
              <th scope="col">Account</th>
              <th scope="col">Status</th>
              <th scope="col">Amount</th>
              <th scope="col">Payment</th>
              <th scope="col" aria-sort={order === 'desc' ? 'descending' : 'ascending'}>
                <button type="button" class="sort" onClick={() => set({ order: order === 'desc' ? 'asc' : 'desc' })}>
                  Tracked <span aria-hidden="true">{order === 'desc' ? '▼' : '▲'}</span>
                  <span class="sr-only">{order === 'desc' ? ', newest first: sort oldest first' : ', oldest first: sort newest first'}</span>
                </button>
              </th>
            </tr>
          </thead>
          <tbody>
            {data?.data.map((r) => (
              <tr key={`${r.provider}/${r.account}/${r.id}`}>
                <td><a href={refundPath(r)}>{r.id}</a></td>
                <td>{r.provider}</td>
                <td>{r.account}</td>
                <td><span class={`status s-${r.status}`}>{r.status.replace('_', ' ')}</span>{r.tracking.stuck && <span class="status s-stuck">stuck</span>}</td>
                <td class="num">{r.amountDecimal ?? '—'} {r.currency ?? ''}</td>
                <td>{r.paymentId ?? '—'}</td>
                <td>{when(r.tracking.trackedAt)}</td>
              </tr>
            ))}
            {data && data.data.length === 0 && (
              <tr><td colSpan={7}>No refunds match these filters.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages">
        <button type="button" class="secondary" disabled={stack.length === 0} onClick={() => setCursors({ key: filterKey, stack: stack.slice(0, -1) })}>Previous page</button>
        <span>Page {stack.length + 1}</span>
        <button type="button" class="secondary" disabled={!data?.nextCursor} onClick={() => data?.nextCursor && setCursors({ key: filterKey, stack: [...stack, data.nextCursor] })}>Next page</button>
      </nav>
    </>
  );
}
