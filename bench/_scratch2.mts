import { Agent, request } from 'undici';
import { startBenchEmulator } from './lib/emulator.js';
import { createRefundClient } from '../src/client.js';
import { loadConfig } from '../src/config/index.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
const emu = await startBenchEmulator('child');
const config = loadConfig({ env: {} });
for (const id of PROVIDER_IDS) config.accounts.get(id)!.set('default', emu.settings[id]);
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
const client = createRefundClient({ config, logger: silentLogger, transport: { dispatcher: agent, maxAttempts: 1 } });
const p = (process.argv[2] ?? 'stan') as any;
const id = await emu.createRefund(p);
const mode = process.argv[3] ?? 'ours';
let url = '', headers: any = {};
if (mode === 'bare') {
  // headers via a capture
  const a2 = new Agent({}).compose((d) => (o, h) => { url = new URL(o.path, o.origin).toString(); headers = o.headers; return d(o, h); });
  const c2 = createRefundClient({ config, logger: silentLogger, transport: { dispatcher: a2 } });
  await c2.getRefund(p, id);
}
const N = 20000;
for (let i = 0; i < 2000; i++) mode === 'ours' ? await client.getRefund(p, id) : await (await request(url, { headers, dispatcher: agent })).body.json();
const cpu0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < N; i++) mode === 'ours' ? await client.getRefund(p, id) : await (await request(url, { headers, dispatcher: agent })).body.json();
const t = performance.now() - t0; const cpu = process.cpuUsage(cpu0);
console.log(p, mode, 'wall us/call', (t * 1000 / N).toFixed(1), 'cpu us/call', ((cpu.user + cpu.system) / N).toFixed(1));
await client.close(); await emu.close(); process.exit(0);
