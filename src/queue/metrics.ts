import { Gauge, Histogram, type Registry } from 'prom-client';
import { ALL_QUEUES, JOB_STATES, type QueueStats } from './job-queue.js';

/**
 * The job queue's metrics (PostgreSQL roles only), on the hub's registry: jobs by queue and state
 * (set from queue stats by the background gauge refresh, never on a scrape), and per-job latency:
 * from when a job could start to when a worker took it, and how long it ran.
 */
export interface QueueMetrics {
  jobs: Gauge<'queue' | 'state'>;
  jobWait: Histogram<'queue'>;
  jobRun: Histogram<'queue' | 'outcome'>;
}

export function createQueueMetrics(registry: Registry): QueueMetrics {
  // One registry shared by two hubs (tests) keeps the first hub's metrics rather than throw.
  const existing = registry.getSingleMetric('refundhub_jobs');
  if (existing) {
    return { jobs: existing as QueueMetrics['jobs'], jobWait: registry.getSingleMetric('refundhub_job_wait_seconds') as QueueMetrics['jobWait'], jobRun: registry.getSingleMetric('refundhub_job_run_seconds') as QueueMetrics['jobRun'] };
  }
  return {
    jobs: new Gauge({ name: 'refundhub_jobs', help: 'Jobs in the job queue by queue and state', labelNames: ['queue', 'state'], registers: [registry] }),
    jobWait: new Histogram({
      name: 'refundhub_job_wait_seconds',
      help: 'From when a job could start (enqueued, or its start-after time) to when a worker took it',
      labelNames: ['queue'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    jobRun: new Histogram({
      name: 'refundhub_job_run_seconds',
      help: 'How long a job ran in the worker, by queue and outcome (completed, failed)',
      labelNames: ['queue', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
  };
}

export function setJobGauges(metrics: QueueMetrics, stats: QueueStats): void {
  for (const queue of ALL_QUEUES) for (const state of JOB_STATES) metrics.jobs.set({ queue, state }, stats[queue][state]);
}
