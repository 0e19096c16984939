import { pino } from 'pino';

/** The subset of pino's API RefundHub uses, so tests and the CLI can pass their own. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/**
 * Paths pino blanks out wherever they appear in a log object: credentials and signatures must
 * never reach a log line, even when someone logs a whole request.
 */
export const REDACT_PATHS = [
  'authorization', 'Authorization', '*.authorization', '*.Authorization',
  'headers.authorization', 'headers["x-login"]', 'headers["x-hmac-signature"]', 'headers.signature',
  'headers["x-gr4vy-webhook-signatures"]', 'headers["refundhub-signature"]',
  'token', '*.token', 'secret', '*.secret', 'apiSecret', '*.apiSecret', 'clientSecret', '*.clientSecret',
  'secretKey', '*.secretKey', 'privateKey', '*.privateKey', 'webhookSecret', '*.webhookSecret', 'key', '*.key',
  'req.headers.authorization',
];

export function createLogger(options: { level?: string; name?: string; destination?: number } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'refundhub',
      level: options.level ?? process.env.REFUNDHUB_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: undefined,
    },
    pino.destination({ dest: options.destination ?? 2, sync: false }),
  ) as unknown as Logger;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
