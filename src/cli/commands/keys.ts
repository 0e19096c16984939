import type { Command } from 'commander';
import { RefundHubError } from '../../errors.js';
import { API_SCOPES, createApiKey, listApiKeys, revokeApiKey } from '../../server/auth.js';
import { withHub } from '../hub.js';
import { guard, printJson, printLine } from '../output.js';

const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export function register(program: Command): void {
  const keys = program.command('keys').description('Manage API keys for the HTTP API');
  keys
    .command('create')
    .description('Create an API key and print it alone on stdout (the only time it is shown)')
    .option('--scope <scope>', `a scope to grant, repeatable (${API_SCOPES.join(', ')})`, collect, [] as string[])
    .option('--name <name>', 'a label to recognise the key by')
    .action(async (opts: { scope: string[]; name?: string }) => {
      await guard(async () => {
        if (opts.scope.length === 0) throw new RefundHubError('invalid_input', `give at least one --scope (${API_SCOPES.join(', ')})`);
        await withHub(program, async (hub) => {
          const key = await createApiKey(hub.db, opts.scope, opts.name ?? null, { now: hub.clock.now() });
          printLine(key);
        });
      });
    });
  keys
    .command('list')
    .description('List API keys (never the keys themselves)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await guard(async () => {
        await withHub(program, async (hub) => {
          const all = await listApiKeys(hub.db);
          if (opts.json) return printJson({ data: all });
          if (all.length === 0) printLine('(no API keys)');
          for (const k of all) printLine([k.id, `${k.prefix}...`, k.scopes.join(','), k.name ?? '-', k.revokedAt ? `revoked ${k.revokedAt}` : `created ${k.createdAt}`].join('  '));
        });
      });
    });
  keys
    .command('revoke')
    .description('Revoke an API key by id')
    .argument('<id>', 'the key id (from `refundhub keys list`)')
    .action(async (id: string) => {
      await guard(async () => {
        await withHub(program, async (hub) => {
          if (!(await revokeApiKey(hub.db, id, hub.clock.now()))) throw new RefundHubError('not_found', `no active API key ${id}`);
          printLine(`revoked ${id}`);
        });
      });
    });
}
