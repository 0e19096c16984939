import type { Logger } from '../logger.js';

/**
 * The CLI's logger: warnings as short `refundhub: warning:` lines on stderr (a JSON log line in
 * the middle of a terminal session helps nobody); debug and info only with REFUNDHUB_LOG_LEVEL.
 * It prints messages only, never the bound objects, so no credential can leak through it.
 */
export function createCliLogger(level: string = process.env.REFUNDHUB_LOG_LEVEL ?? 'warn'): Logger {
  const order = ['debug', 'info', 'warn', 'error'];
  const min = level === 'silent' ? order.length : Math.max(0, order.indexOf(level === 'trace' ? 'debug' : level === 'fatal' ? 'error' : level));
  const emit = (lvl: string) => (_obj: object, msg?: string) => {
    if (order.indexOf(lvl) >= min && msg) process.stderr.write(`refundhub: ${lvl === 'warn' ? 'warning' : lvl}: ${msg}\n`);
  };
  const logger: Logger = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: () => logger };
  return logger;
}
