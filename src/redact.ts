/**
 * One way to show a URL without its secrets, used wherever a URL is printed or logged (the
 * `providers` command, banners, the store's description, the emulator's request log, transport
 * errors). A base URL may carry `user:pass@` for a proxy, and query strings carry tokens and
 * signatures (`?access_token=`, `?sig=`): both are masked, the rest is kept so the URL stays useful.
 */

const MASK = '****';

/**
 * Query parameter names whose values are credentials. Matched as a part of the name (`api_key`,
 * `X-Amz-Signature`, `client_secret`, an OAuth `code`), erring on the side of masking: a masked
 * harmless value (`currency_code`) costs less than a printed token.
 */
const SECRET_PARAM = /token|key|secret|sig|pass|pwd|auth|credential|session|jwt|code/i;

export function isSecretParam(name: string): boolean {
  return SECRET_PARAM.test(name);
}

/** Masks the credentials in a query string (`?a=1&token=x` -> `?a=1&token=****`); keeps it otherwise as written. */
export function redactQuery(search: string, mask: string = MASK): string {
  if (!search || search === '?') return search;
  const body = search.startsWith('?') ? search.slice(1) : search;
  const masked = body
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as written.
      }
      return isSecretParam(name) ? `${pair.slice(0, eq)}=${mask}` : pair;
    })
    .join('&');
  return search.startsWith('?') ? `?${masked}` : masked;
}

/**
 * The URL with its password masked (`user:****@`; a lone user name, often a token as in
 * `https://TOKEN@host`, becomes `****@`) and credential-looking query values masked.
 * A value that does not parse as a URL is returned with anything shaped like credentials masked, so
 * a malformed configuration value is never printed with its secrets either.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactUrlsInText(url);
  }
  if (!u.username && !u.password && !u.search) return url;
  const userinfo = u.password ? `${u.username}:${MASK}@` : u.username ? `${MASK}@` : '';
  const authority = `${u.protocol}//${userinfo}${u.host}`;
  return `${authority}${u.pathname}${redactQuery(u.search)}${u.hash}`;
}

/** Masks every URL's credentials inside free text (an error message, a log line). */
export function redactUrlsInText(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*)(:[^\s/?#@]*)?@/gi, (_m, scheme: string, user: string, pass?: string) => (pass ? `${scheme}${user}:${MASK}@` : `${scheme}${MASK}@`))
    .replace(/\?[^\s#"'<>]*/g, (q) => redactQuery(q));
}
