import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Metrics } from '../metrics.js';
import { listen } from './app.js';
import { errorBody } from './errors.js';
import { boundedServerOptions, DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from './http-timeouts.js';

/**
 * `/metrics` on a port of its own (`serve --metrics-port P`, and a worker's later): the API port
 * can then be public while metrics stay on an internal interface, with no API key to manage.
 */

/** What a metrics endpoint needs: the registry, and the scrape-time gauges (cached, see createGaugeCache). */
export interface MetricsSource {
  readonly metrics: Metrics;
  collectGauges(): Promise<void>;
}

/** Answers one scrape in the Prometheus text format. */
export async function sendMetrics(source: MetricsSource, reply: FastifyReply): Promise<FastifyReply> {
  await source.collectGauges();
  const text = await source.metrics.registry.metrics();
  return reply.type(source.metrics.registry.contentType).send(text);
}

/** A Fastify app serving only `GET /metrics`, with the API's slow-client bounds. */
export function buildMetricsApp(source: MetricsSource, options: { timeouts?: Partial<HttpTimeouts> } = {}): FastifyInstance {
  const t = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
  const app = Fastify({ logger: false, ...boundedServerOptions(t), return503OnClosing: true });
  app.get('/metrics', (_request, reply) => sendMetrics(source, reply));
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('route_not_found', `only GET /metrics is served here, not ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`)));
  app.setErrorHandler((_err, _request, reply) => reply.code(500).send(errorBody('internal_error', 'internal error')));
  return app;
}

/** Builds and starts the metrics-only server; resolves with it and its base URL. */
export async function startMetricsServer(source: MetricsSource, port: number, host: string): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildMetricsApp(source);
  return { app, url: await listen(app, port, host) };
}
