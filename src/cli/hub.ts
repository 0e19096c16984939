import type { Command } from 'commander';
import type { Logger } from '../logger.js';
import { createRefundHub, type CreateRefundHubOptions, type RefundHub } from '../service.js';
import { createCliLogger } from './logger.js';
import { attemptReporter } from './progress.js';

/** Opens a RefundHub for one CLI command (no loops started), runs `body`, and always closes it. */
export async function withHub<T>(program: Command, body: (hub: RefundHub) => Promise<T>, options: CreateRefundHubOptions & { logger?: Logger } = {}): Promise<T> {
  const hub = await createRefundHub({ configFile: program.opts().config, logger: createCliLogger(), transport: { onAttempt: attemptReporter() }, ...options });
  try {
    return await body(hub);
  } finally {
    await hub.stop();
  }
}
