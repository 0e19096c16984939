import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from './support/hub.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';
import { pollUntil } from './support/wait.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * `npm start` (`refundhub demo`) end to end, as a newcomer runs it: `bin/refundhub demo` in a child
 * process in its own directory (the built dist/: `npm run build` first).
 */

const BIN = fileURLToPath(new URL('../bin/refundhub', import.meta.url));
const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' });

interface Demo {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

const started: Demo[] = [];
const dirs: Array<ReturnType<typeof tempDir>> = [];

function startDemo(args: string[], cwd: string): Demo {
  const child = spawn(process.execPath, [BIN, 'demo', ...args], { cwd, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const demo = { child, stdout: () => out, stderr: () => err, exited };
  started.push(demo);
  return demo;
}

/** The child's exit code, waiting at most 30 s. */
async function exitCode(demo: Demo, what: string): Promise<number | null> {
  await pollUntil(() => demo.child.exitCode !== null || demo.child.signalCode !== null, { timeoutMs: 30_000, what });
  return demo.child.exitCode;
}

function newDir(): string {
  const d = tempDir('refundhub-demo-test-');
  dirs.push(d);
  return d.dir;
}

/** Parses the demo's env file (`export NAME='value'` lines) into an environment. */
function readExports(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line);
    if (m) env[m[1]!] = m[2]!.replace(/'\\''/g, "'");
  }
  return env;
}

afterEach(async () => {
  for (const d of started.splice(0)) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
  }
  for (const d of dirs.splice(0)) d.cleanup();
});

describe('npm start (refundhub demo)', () => {
  it('prints the banner, shows verified webhook deliveries, points the CLI at itself, and stops cleanly on Ctrl-C', async () => {
    const cwd = newDir();
    const demo = startDemo(['--port', '0'], cwd);
    await pollUntil(() => demo.stdout().includes('Webhook deliveries:'), { timeoutMs: 60_000, what: 'the demo banner' });
    const out = demo.stdout();
    expect(out).toMatch(/^RefundHub demo: API on http:\/\/127\.0\.0\.1:\d+ /);
    expect(out).toContain('. ./refundhub-demo.env');
    expect(out).toMatch(/Webhooks: a demo receiver on http:\/\/127\.0\.0\.1:\d+\/hook is registered as endpoint we_/);
    // The dashboard's URL, to sign in with the demo key printed above it, and the page is there.
    const dashboard = /Dashboard: open (http:\/\/127\.0\.0\.1:\d+)\/ and sign in with the demo API key/.exec(out);
    expect(dashboard, out).not.toBeNull();
    expect((await fetch(`${dashboard![1]}/`)).headers.get('content-type')).toBe('text/html; charset=utf-8');
    // The old banner's curl line registered http://127.0.0.1:9000/hook, where nothing listens.
    expect(out).not.toContain('127.0.0.1:9000');

    // A delivery reaches the demo's receiver and its signature checks out.
    await pollUntil(() => /\n {2}webhook refund\.\S+ +\S+ \S+: .* -> .*, signature verified\n/.test(demo.stdout()), { timeoutMs: 30_000, what: 'a verified webhook delivery line' });
    expect(demo.stdout()).not.toContain('SIGNATURE INVALID');

    // The env file points the CLI at the demo's database and emulators.
    const envFile = join(cwd, 'refundhub-demo.env');
    const exported = readExports(envFile);
    expect(exported.REFUNDHUB_DATABASE_URL).toBe(`sqlite:${join(cwd, 'refundhub-demo.db')}`);
    expect(Object.keys(exported)).toEqual(expect.arrayContaining(['REFUNDHUB_ZIINA_BASE_URL', 'REFUNDHUB_STAN_BASE_URL', 'REFUNDHUB_ONEKEY_BASE_URL']));
    const list = await runCli(['list', '--provider', 'stan'], exported);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('de305a7e-57a0-4d3e-8000-000000000001');
    const get = await runCli(['get', 'stan', 'de305a7e-57a0-4d3e-8000-000000000001'], exported);
    expect(get.code, get.stderr).toBe(0);

    demo.child.kill('SIGINT');
    const code = await exitCode(demo, 'the demo to exit after SIGINT');
    expect(code).toBe(0);
    expect(demo.stdout()).toMatch(/\nstopped\n$/);
    // Nothing on stderr: no JSON warnings from services stopped in the wrong order.
    expect(demo.stderr()).toBe('');
    expect(existsSync(envFile)).toBe(false);
  });

  it('a second start on a busy port fails with one line naming the port and how to pick another, and leaves the database alone', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const cwd = newDir();
      // Stands in for the running demo's database and WAL.
      writeFileSync(join(cwd, 'refundhub-demo.db'), 'the running demo owns this');
      writeFileSync(join(cwd, 'refundhub-demo.db-wal'), 'and this');
      const demo = startDemo(['--port', String(port)], cwd);
      const code = await exitCode(demo, 'the second demo to exit');
      expect(code).toBe(2);
      const lines = demo.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^refundhub: error: port ${port} on 127\\.0\\.0\\.1 is already in use.*--port <port>.*REFUNDHUB_PORT`));
      expect(demo.stderr()).not.toMatch(/\n\s+at /);
      expect(readFileSync(join(cwd, 'refundhub-demo.db'), 'utf8')).toBe('the running demo owns this');
      expect(readFileSync(join(cwd, 'refundhub-demo.db-wal'), 'utf8')).toBe('and this');
      expect(existsSync(join(cwd, 'refundhub-demo.env'))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('a second demo in the same directory on another port refuses with one line and leaves the running one alone', async () => {
    const cwd = newDir();
    const first = startDemo(['--port', '0'], cwd);
    await pollUntil(() => first.stdout().includes('Webhook deliveries:'), { timeoutMs: 60_000, what: 'the first demo banner' });
    const db = join(cwd, 'refundhub-demo.db');
    const envFile = join(cwd, 'refundhub-demo.env');
    const dbInode = statSync(db).ino;
    const envText = readFileSync(envFile, 'utf8');
    expect(readFileSync(join(cwd, 'refundhub-demo.pid'), 'utf8').trim()).toBe(String(first.child.pid));

    const second = startDemo(['--port', '0'], cwd);
    expect(await exitCode(second, 'the second demo to exit')).toBe(2);
    expect(second.stderr()).toBe(
      `refundhub: error: a demo is already running in this directory (pid ${first.child.pid}); stop it or run from another directory [invalid_input]\n`,
    );
    expect(second.stdout()).toBe('');
    // The running demo keeps its database file (not deleted and recreated), its env file and its lock.
    expect(statSync(db).ino).toBe(dbInode);
    expect(readFileSync(envFile, 'utf8')).toBe(envText);
    expect(readFileSync(join(cwd, 'refundhub-demo.pid'), 'utf8').trim()).toBe(String(first.child.pid));
    const list = await runCli(['list', '--provider', 'stan'], readExports(envFile));
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('de305a7e-57a0-4d3e-8000-000000000001');

    first.child.kill('SIGINT');
    expect(await exitCode(first, 'the first demo to exit after SIGINT')).toBe(0);
    expect(existsSync(join(cwd, 'refundhub-demo.pid'))).toBe(false);
  });

  it('takes over the lock of a demo that died without removing it', async () => {
    const cwd = newDir();
    // A pid that was real and is now gone: a demo SIGKILLed would leave exactly this.
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const goneExit = new Promise((resolve) => gone.on('exit', resolve));
    await goneExit;
    writeFileSync(join(cwd, 'refundhub-demo.pid'), `${gone.pid}\n`);
    const demo = startDemo(['--port', '0'], cwd);
    await pollUntil(() => demo.stdout().includes('Webhook deliveries:'), { timeoutMs: 60_000, what: 'the demo banner' });
    expect(readFileSync(join(cwd, 'refundhub-demo.pid'), 'utf8').trim()).toBe(String(demo.child.pid));
    demo.child.kill('SIGINT');
    expect(await exitCode(demo, 'the demo to exit after SIGINT')).toBe(0);
    expect(demo.stderr()).toBe('');
  });
});
