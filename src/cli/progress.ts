import type { AttemptEvent } from '../transport/http.js';

/**
 * Retries made visible. A provider that never answers costs three 10 s timeouts plus backoff
 * before the CLI can say anything; on a terminal that silence looks like a hang, so each retry
 * gets one line on stderr. Pipes and scripts get nothing extra (their stderr stays one error
 * line), unless REFUNDHUB_PROGRESS says otherwise.
 */

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The line for an attempt that another will follow; null when none follows (success, or the final error says it). */
export function formatAttempt(event: AttemptEvent): string | null {
  if (event.retryInMs === undefined) return null;
  const what = event.timedOut
    ? `timed out after ${seconds(event.durationMs)}`
    : event.status !== null
      ? `failed (HTTP ${event.status})`
      : `failed (${event.error ?? 'network error'})`;
  return `refundhub: ${event.provider}: attempt ${event.attempt} of ${event.maxAttempts} ${what}; attempt ${event.attempt + 1} of ${event.maxAttempts} in ${seconds(event.retryInMs)}...`;
}

/**
 * The `onAttempt` observer for CLI commands: on when stderr is a terminal, or when
 * REFUNDHUB_PROGRESS=1 forces it (REFUNDHUB_PROGRESS=0 turns it off); undefined otherwise.
 */
export function attemptReporter(
  stream: { isTTY?: boolean; write(s: string): unknown } = process.stderr,
  env: Record<string, string | undefined> = process.env,
): ((event: AttemptEvent) => void) | undefined {
  const forced = env.REFUNDHUB_PROGRESS?.trim();
  const on = forced === '1' || forced === 'true' ? true : forced === '0' || forced === 'false' ? false : stream.isTTY === true;
  if (!on) return undefined;
  return (event) => {
    const line = formatAttempt(event);
    if (line) stream.write(`${line}\n`);
  };
}
