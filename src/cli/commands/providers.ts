import type { Command } from 'commander';
import { createRefundClient } from '../../client.js';
import { redactUrl } from '../../redact.js';
import { createCliLogger } from '../logger.js';
import { guard, printJson, printLine } from '../output.js';

export function register(program: Command): void {
  program
    .command('providers')
    .description('List each provider and account: whether it is configured, and its base URL')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await guard(async () => {
        const client = createRefundClient({ configFile: program.opts().config, logger: createCliLogger() });
        // A base URL may carry proxy credentials (https://user:pass@proxy/...): shown masked, in JSON too.
        const rows = client.accounts().map((r) => ({ ...r, baseUrl: redactUrl(r.baseUrl) }));
        await client.close();
        if (opts.json) return printJson(rows);
        const w = Math.max(...rows.map((r) => `${r.provider}/${r.account}`.length));
        for (const r of rows) {
          printLine(`${`${r.provider}/${r.account}`.padEnd(w)}  ${r.configured ? 'configured    ' : 'not configured'}  ${r.baseUrl}`);
        }
      });
    });
}
