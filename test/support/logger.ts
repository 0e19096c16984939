import type { Logger } from '../../src/logger.js';

export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

/**
 * A real Logger that keeps what was logged, children included: `lines` has every line,
 * `warnings` the warn-level ones (for tests of "logged once, never thrown").
 */
export function recordingLogger(): Logger & { lines: LoggedLine[]; readonly warnings: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at = (level: LoggedLine['level']) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const logger: Logger & { lines: LoggedLine[]; readonly warnings: LoggedLine[] } = {
    lines,
    get warnings() {
      return lines.filter((l) => l.level === 'warn');
    },
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}
