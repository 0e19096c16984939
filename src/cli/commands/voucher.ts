import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createRefundClient } from '../../client.js';
import { RefundHubError } from '../../errors.js';
import { createCliLogger } from '../logger.js';
import { guard, printLine } from '../output.js';
import { attemptReporter } from '../progress.js';

export function register(program: Command): void {
  program
    .command('voucher')
    .description("Download the provider's proof of refund (OneKey's voucher) as a PDF file")
    .argument('<provider>', 'onekey (the only provider that issues one)')
    .argument('<id>', "the provider's refund id")
    .option('--out <file>', 'where to write the PDF (required: it is binary)')
    .option('--account <name>', 'configured account to use', 'default')
    .action(async (provider: string, id: string, opts: { out?: string; account: string }) => {
      await guard(async () => {
        if (opts.out === undefined || opts.out.trim() === '') throw new RefundHubError('invalid_input', 'give the file to write with --out FILE.pdf');
        const out = opts.out;
        const client = createRefundClient({ configFile: program.opts().config, logger: createCliLogger(), transport: { onAttempt: attemptReporter() } });
        try {
          // Checked to be a PDF by the connector before anything is written.
          const pdf = await client.getVoucher(provider, id, { account: opts.account });
          // Written beside the target and renamed, so a failed write never leaves half a PDF under its name.
          const partial = `${out}.${process.pid}.part`;
          try {
            await writeFile(partial, pdf, { mode: 0o600 });
            await rename(partial, out);
          } catch (e) {
            await rm(partial, { force: true });
            throw new RefundHubError('invalid_input', `cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? 'write failed'}`);
          }
          printLine(`wrote proof of refund (${pdf.length} bytes, PDF) to ${out}`);
        } finally {
          await client.close();
        }
      });
    });
}
