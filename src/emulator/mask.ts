/** Header names whose values are credentials or signatures; the request log shows them masked. */
const SECRET_HEADERS = new Set(['authorization', 'x-login', 'x-hmac-signature', 'signature', 'x-gr4vy-webhook-signatures', 'refundhub-signature', 'cookie', 'proxy-authorization']);

/** Keeps the scheme word (`Bearer`, `Basic`, `D24`) so a reader can tell which auth was used. */
export function maskValue(value: string): string {
  const m = /^(\S+)\s+\S+/.exec(value);
  return m ? `${m[1]} ****` : '****';
}

export function maskHeaders(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v !== undefined && SECRET_HEADERS.has(k.toLowerCase()) ? maskValue(v) : v;
  return out;
}
