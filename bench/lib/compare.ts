import { Bench } from 'tinybench';
import type { BenchSide, RatioKind } from './types.js';

/**
 * Side-by-side measurement for a shared, noisy machine: absolute times drift by tens of percent
 * from one minute to the next, but two things measured back to back see nearly the same machine.
 * So each round runs both sides one after the other, the order alternates between rounds (a side
 * that always runs second would always inherit the first one's garbage), and the answer is the
 * median of the per-round ratios, not a ratio of long-run averages.
 */

export interface Contender {
  label: string;
  /** One call; must reject on any failure (a fast error would look like a fast call). */
  call: () => Promise<unknown>;
}

export interface RoundSample {
  oursMs: number;
  baselineMs: number;
  oursCps: number;
  baselineCps: number;
}

export interface Comparison {
  ours: BenchSide;
  baseline: BenchSide;
  kind: RatioKind;
  ratio: number;
  ratioRange: [number, number];
  rounds: RoundSample[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summarize(label: string, ms: number[], cps: number[]): BenchSide {
  return { label, msPerCall: median(ms), callsPerSec: median(cps) };
}

function conclude(ours: Contender, baseline: Contender, kind: RatioKind, rounds: RoundSample[]): Comparison {
  const ratios = rounds.map((r) => (kind === 'time' ? r.oursMs / r.baselineMs : r.oursCps / r.baselineCps));
  return {
    ours: summarize(ours.label, rounds.map((r) => r.oursMs), rounds.map((r) => r.oursCps)),
    baseline: summarize(baseline.label, rounds.map((r) => r.baselineMs), rounds.map((r) => r.baselineCps)),
    kind,
    ratio: median(ratios),
    ratioRange: [Math.min(...ratios), Math.max(...ratios)],
    rounds,
  };
}

export interface SequentialOptions {
  rounds: number;
  /** Measured time per side per round. */
  timeMs: number;
  /** Runs before each round, outside the measurement (e.g. refreshing precomputed headers). */
  beforeRound?: () => Promise<void>;
  /** How the ratio is read; `time` (ours/baseline ms per call) unless told. */
  kind?: RatioKind;
}

/** One call in flight at a time, measured by tinybench; rounds alternate which side goes first. */
export async function compareSequential(ours: Contender, baseline: Contender, options: SequentialOptions): Promise<Comparison> {
  const samples: RoundSample[] = [];
  for (let round = 0; round < options.rounds; round++) {
    await options.beforeRound?.();
    const bench = new Bench({
      time: options.timeMs,
      // Bounded either way: at least this many calls, and the time budget above.
      iterations: 16,
      warmupTime: Math.min(100, options.timeMs / 4),
      warmupIterations: 8,
      throws: true,
    });
    const order = round % 2 === 0 ? [ours, baseline] : [baseline, ours];
    for (const c of order) bench.add(c.label, c.call);
    await bench.run();
    const period = (c: Contender): number => {
      const task = bench.getTask(c.label);
      const result = task?.result;
      if (!result || !('period' in result)) throw new Error(`benchmark task "${c.label}" did not complete (${result?.state ?? 'no result'})`);
      return result.period;
    };
    const oursMs = period(ours);
    const baselineMs = period(baseline);
    samples.push({ oursMs, baselineMs, oursCps: 1000 / oursMs, baselineCps: 1000 / baselineMs });
  }
  return conclude(ours, baseline, options.kind ?? 'time', samples);
}

/** Calls completed per second with `inflight` calls kept outstanding for `durationMs`. */
async function throughput(call: () => Promise<unknown>, inflight: number, durationMs: number): Promise<{ cps: number; msPerCall: number }> {
  let done = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await call();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = performance.now() - started;
  // Time per call as the machine sees it (wall time / calls), not the latency of one call.
  return { cps: (done * 1000) / elapsed, msPerCall: elapsed / done };
}

export interface ConcurrentOptions {
  rounds: number;
  timeMs: number;
  inflight: number;
  beforeRound?: () => Promise<void>;
}

/** Throughput with several calls in flight (what a busy poller does); rounds alternate the order. */
export async function compareConcurrent(ours: Contender, baseline: Contender, options: ConcurrentOptions): Promise<Comparison> {
  const samples: RoundSample[] = [];
  const warmMs = Math.min(100, options.timeMs / 4);
  for (let round = 0; round < options.rounds; round++) {
    await options.beforeRound?.();
    const order = round % 2 === 0 ? [ours, baseline] : [baseline, ours];
    const got = new Map<Contender, { cps: number; msPerCall: number }>();
    for (const c of order) {
      await throughput(c.call, options.inflight, warmMs);
      got.set(c, await throughput(c.call, options.inflight, options.timeMs));
    }
    const o = got.get(ours)!;
    const b = got.get(baseline)!;
    samples.push({ oursMs: o.msPerCall, baselineMs: b.msPerCall, oursCps: o.cps, baselineCps: b.cps });
  }
  return conclude(ours, baseline, 'throughput', samples);
}

/** Mean ms per call of one function measured alone (for decomposing a ratio, not for targets). */
export async function measureAlone(call: () => unknown, timeMs: number): Promise<number> {
  const bench = new Bench({ time: timeMs, iterations: 16, warmupTime: Math.min(100, timeMs / 4), warmupIterations: 8, throws: true });
  bench.add('alone', call as () => Promise<unknown>);
  await bench.run();
  const result = bench.getTask('alone')?.result;
  if (!result || !('period' in result)) throw new Error(`measurement did not complete (${result?.state ?? 'no result'})`);
  return result.period;
}

/** `1.23 [1.10 1.31 ...]`: the per-round ratios, for the progress log. */
export function describeRounds(c: Comparison): string {
  const ratios = c.rounds.map((r) => (c.kind === 'time' ? r.oursMs / r.baselineMs : r.oursCps / r.baselineCps));
  return `ratio ${c.ratio.toFixed(2)}, rounds ${ratios.map((x) => x.toFixed(2)).join(' ')}`;
}
