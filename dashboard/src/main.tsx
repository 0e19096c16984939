import { render } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, setCsrfToken, whenSignedOut } from './api';
import { OverviewPage } from './overview';
import { RefundPage } from './refund';
import { RefundsPage } from './refunds';
import { WebhooksPage } from './webhooks';
import './style.css';

export interface Session {
  scopes: string[];
  csrfToken: string | null;
  expiresAt: string;
}

/** Bumped on every live change from /v1/live, so open pages refetch what they show. */
export const LiveContext = createContext<{ tick: number; last: LiveChange | null }>({ tick: 0, last: null });
export const SessionContext = createContext<Session | null>(null);

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

/** Reruns `load` when its deps change and after live changes (batched to one refetch per half second). */
export function useLive<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string | null; reload: () => void } {
  const { tick } = useContext(LiveContext);
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [nonce, setNonce] = useState(0);
  const [liveTick, setLiveTick] = useState(tick);
  useEffect(() => {
    const t = setTimeout(() => setLiveTick(tick), 300);
    return () => clearTimeout(t);
  }, [tick]);
  useEffect(() => {
    let alive = true;
    load().then(
      (d) => alive && (setData(d), setError(null)),
      (e: Error) => alive && setError(e.message),
    );
    return () => {
      alive = false;
    };
  }, [...deps, nonce, liveTick]);
  return { data, error, reload: () => setNonce((n) => n + 1) };
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice: string | null }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const apiKey = input.current?.value ?? '';
    if (!apiKey.trim()) return setError('Enter an API key.');
    setBusy(true);
    setError(null);
    try {
      const s = await api<Session>('/v1/sessions', { method: 'POST', body: { apiKey }, signedOutOk: true });
      // The key leaves the page as soon as it has been exchanged for the cookie.
      if (input.current) input.current.value = '';
      onSignedIn(s);
    } catch (err) {
      setError(err instanceof ApiFailure ? err.message : 'Sign-in failed.');
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>RefundHub</h1>
      <p>Sign in with an API key that has the <code>refunds:read</code> scope. Actions need <code>refunds:write</code> (and <code>webhooks:write</code> for webhooks).</p>
      {notice && <p class="notice" role="status">{notice}</p>}
      <form onSubmit={submit} class="card">
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck={false} ref={input} aria-describedby={error ? 'signin-error' : undefined} aria-invalid={error ? true : undefined} />
        <button type="submit" disabled={busy}>Sign in</button>
        {error && <p id="signin-error" class="error" role="alert">{error}</p>}
      </form>
    </main>
  );
}

function route(hash: string): { name: string; parts: string[]; query: URLSearchParams } {
  const h = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] ?? 'overview', parts: parts.slice(1), query: new URLSearchParams(query) };
}

function App() {
  const [session, setSession] = useState<Session | null | 'loading'>('loading');
  const [notice, setNotice] = useState<string | null>(null);
  const [live, setLive] = useState<{ tick: number; last: LiveChange | null }>({ tick: 0, last: null });
  const [liveState, setLiveState] = useState<'connecting' | 'live' | 'offline'>('connecting');
  const hash = useHash();
  const r = route(hash);
  const mainRef = useRef<HTMLElement>(null);

  useEffect(() => {
    whenSignedOut(() => {
      setCsrfToken(null);
      setSession(null);
      setNotice('Your session has ended: sign in again.');
    });
    api<Session>('/v1/sessions/current', { signedOutOk: true }).then(
      (s) => (setCsrfToken(s.csrfToken), setSession(s)),
      () => setSession(null),
    );
  }, []);

  useEffect(() => {
    if (!session || session === 'loading') return;
    const es = new EventSource('/v1/live');
    es.onopen = () => setLiveState('live');
    es.onerror = () => setLiveState(es.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
    es.addEventListener('refund', (ev) => {
      const change = JSON.parse((ev as MessageEvent).data) as LiveChange;
      setLive((l) => ({ tick: l.tick + 1, last: change }));
    });
    return () => es.close();
  }, [session]);

  // Moving to another page puts the keyboard focus on its heading, as a page load would.
  const pageKey = `${r.name}/${r.parts.join('/')}`;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) return void (first.current = false);
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [pageKey]);

  if (session === 'loading') return <main id="main"><p role="status">Loading…</p></main>;
  if (!session) return <SignIn notice={notice} onSignedIn={(s) => (setCsrfToken(s.csrfToken), setNotice(null), setSession(s))} />;

  const signOut = async () => {
    try {
      await api('/v1/sessions/current', { method: 'DELETE' });
    } finally {
      setCsrfToken(null);
      setNotice('Signed out.');
      setSession(null);
      location.hash = '';
    }
  };

  let page;
  if (r.name === 'refunds') page = <RefundsPage query={r.query} />;
  // Keyed: another refund is a fresh page, not this one's messages and busy state with new props.
  else if (r.name === 'refund' && r.parts.length === 3) page = <RefundPage key={pageKey} provider={r.parts[0]!} account={r.parts[1]!} id={r.parts[2]!} />;
  else if (r.name === 'webhooks') page = <WebhooksPage />;
  else page = <OverviewPage query={r.query} />;

  const nav = (name: string, label: string) => (
    <a href={`#/${name}`} aria-current={r.name === name || (name === 'refunds' && r.name === 'refund') ? 'page' : undefined}>{label}</a>
  );
  return (
    <SessionContext.Provider value={session}>
      <LiveContext.Provider value={live}>
        <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), mainRef.current?.focus())}>Skip to content</a>
        <header class="top">
          <span class="brand">RefundHub</span>
          <nav aria-label="Main">
            {nav('overview', 'Overview')}
            {nav('refunds', 'Refunds')}
            {nav('webhooks', 'Webhooks')}
          </nav>
          <span class={`live ${liveState}`} role="status" aria-live="polite">
            {liveState === 'live' ? 'Live' : liveState === 'connecting' ? 'Connecting…' : 'Offline'}
            {live.last && <span class="sr-only">{` Last change: ${live.last.provider} ${live.last.id} is now ${live.last.to}.`}</span>}
          </span>
          <button type="button" class="secondary" onClick={signOut}>Sign out</button>
        </header>
        <main id="main" ref={mainRef} tabIndex={-1}>
          {page}
        </main>
      </LiveContext.Provider>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
