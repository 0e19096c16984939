/**
 * Child-process entry for the benchmarks' emulator: starts the real emulator on 127.0.0.1:0 with
 * demo credentials, reports its URL and the matching settings to the parent over IPC, and
 * stops when the parent says so, disconnects or dies, or after a hard cap, whichever comes first.
 */
import { startEmulator } from '../../test/support/emulator.js';

const MAX_LIFETIME_MS = 10 * 60_000;

const running = await startEmulator();
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await running.close().catch(() => undefined);
  process.exit(code);
}

setTimeout(() => void stop(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => void stop(0));
process.on('message', (m) => {
  if (m === 'stop') void stop(0);
});
process.on('SIGTERM', () => void stop(0));

if (!process.send) {
  process.stderr.write('emulator-child: must be started with an IPC channel (fork)\n');
  await stop(2);
} else {
  process.send({ type: 'ready', url: running.url, settings: running.settings });
}
