/**
 * The contract between `bench/run.ts` and each benchmark file: a file in `bench/` exports
 * `run(options)` resolving to a list of side-by-side results, and optionally a one-line
 * `description`. Importing a benchmark file must not start any work.
 */

/** How a side-by-side result is read: a time ratio (lower is better) or a throughput ratio (higher is better). */
export type RatioKind = 'time' | 'throughput';

/** One side of a comparison, as medians over the alternating rounds. */
export interface BenchSide {
  label: string;
  /** Median over rounds of the mean time per call, in milliseconds. */
  msPerCall: number;
  /** Median over rounds of calls per second (for sequential runs, 1000 / ms per call of that round). */
  callsPerSec: number;
}

export interface BenchTarget {
  op: '<=' | '>=';
  value: number;
}

export interface BenchResult {
  /** The benchmark file's name without extension, e.g. `retrieval`. */
  benchmark: string;
  /** What is compared, e.g. `ziina getRefund vs bare undici GET`. */
  name: string;
  ours: BenchSide;
  baseline: BenchSide;
  /**
   * `time`: ours ms per call / baseline ms per call; `throughput`: ours calls/s / baseline calls/s.
   * Each is the median of the per-round ratios (both sides of a round ran back to back).
   */
  kind: RatioKind;
  ratio: number;
  /** Smallest and largest per-round ratio: how much the machine moved the answer. */
  ratioRange: [number, number];
  rounds: number;
  /** The figure the issue asks for; absent for informational rows. */
  target?: BenchTarget;
  note?: string;
  /** Set when the comparison could not run (e.g. a client rejected the emulator's answer); the numbers are then NaN. */
  error?: string;
}

export interface BenchRunOptions {
  /** Alternating rounds per comparison. */
  rounds: number;
  /** Measured time per side per round, in milliseconds (after a short warm-up). */
  timeMs: number;
  /** Where the emulator runs: its own process (default) or the benchmark's event loop. */
  emulator: 'child' | 'in-process';
  /** Progress lines (stderr), so stdout carries only the results. */
  log: (line: string) => void;
}

export interface BenchModule {
  description?: string;
  run(options: BenchRunOptions): Promise<BenchResult[]>;
}

export function targetMet(r: Pick<BenchResult, 'ratio' | 'target'>): boolean | undefined {
  if (!r.target) return undefined;
  return r.target.op === '<=' ? r.ratio <= r.target.value : r.ratio >= r.target.value;
}
