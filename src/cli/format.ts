import type { Refund } from '../domain/refund.js';

/** A readable, aligned summary of a refund for humans; `--json` prints the full object instead. */
export function formatRefund(r: Refund & { tracking?: { nextCheckAt: string | null; stuck: boolean; lastCheckedAt: string | null } }): string {
  const money = r.amountDecimal !== null ? `${r.amountDecimal}${r.currency ? ` ${r.currency}` : ''}` : r.amount !== null ? `${r.amount} (minor units)` : '-';
  const rows: Array<[string, string]> = [
    ['Refund', `${r.provider} ${r.id}${r.account !== 'default' ? ` (account ${r.account})` : ''}`],
    ['Status', `${r.status} (provider: ${r.providerStatus})`],
    ['Amount', money],
    ['Payment', r.paymentId ?? '-'],
    ['Reason', r.reason ?? '-'],
    ['Created', r.createdAt ?? '-'],
    ['Updated', r.updatedAt ?? '-'],
  ];
  // Only when the provider gave them, so refunds without them read as before.
  if (r.merchantReference) rows.push(['Reference', r.merchantReference]);
  const cr = r.customerReceives;
  if (cr && (cr.amountDecimal !== null || cr.currency !== null)) rows.push(['Customer gets', [cr.amountDecimal ?? '?', cr.currency].filter(Boolean).join(' ')]);
  if (r.providerReference) rows.push(['Provider ref', r.providerReference]);
  if (r.failure) rows.push(['Failure', [r.failure.code, r.failure.message].filter(Boolean).join(': ') || '(no detail)']);
  if (r.tracking) {
    rows.push(['Last check', r.tracking.lastCheckedAt ?? '-']);
    rows.push(['Next check', r.tracking.nextCheckAt ?? 'none (final)']);
    if (r.tracking.stuck) rows.push(['Stuck', "yes: not final within its provider's stuckAfter (default 30 days)"]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
