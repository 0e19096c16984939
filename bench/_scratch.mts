import { Bench } from 'tinybench';
import { startEmulator } from '../test/support/emulator.js';
import { getProvider } from '../src/providers/registry.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { parseWire } from '../src/providers/shared.js';
const em = await startEmulator();
const b = new Bench({ time: 300 });
b.add('AbortSignal.timeout', () => { AbortSignal.timeout(10000); });
for (const p of PROVIDER_IDS) {
  const mod = getProvider(p);
  const r = em.emulator.createRefund(p, {});
  const id = mod.emulator.idOf(r);
  const res = mod.emulator.handle({ method: 'GET', path: '/x', query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0) } as any, { settings: {} as any, now: () => Date.now(), findRefund: () => r });
  b.add(`${p} validateId`, () => { mod.validateId(id); });
  const body = JSON.stringify(p === 'tazapay' ? { status: 'success', data: r } : r);
  b.add(`${p} JSON.parse ${body.length}B`, () => { JSON.parse(body); });
}
await b.run();
console.table(b.table());
await em.close();
