import { describe, expect, it } from 'vitest';
import { KeyedLock } from './lock.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedLock', () => {
  it('never runs two holders of the same key at once, in arrival order', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    let active = 0;
    let maxActive = 0;
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((g, i) =>
      lock.run('a', async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        order.push(`start${i}`);
        await g.promise;
        order.push(`end${i}`);
        active--;
        return i;
      }),
    );
    await Promise.resolve();
    expect(lock.isLocked('a')).toBe(true);
    gates[2]!.resolve();
    gates[1]!.resolve();
    gates[0]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(maxActive).toBe(1);
    expect(order).toEqual(['start0', 'end0', 'start1', 'end1', 'start2', 'end2']);
    expect(lock.size).toBe(0);
  });

  it('runs different keys in parallel and survives a throwing holder', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    let bRan = false;
    const a = lock.run('a', () => gate.promise);
    await lock.run('b', async () => {
      bRan = true;
    });
    expect(bRan).toBe(true);
    gate.resolve();
    await a;
    await expect(lock.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await lock.run('a', async () => 'after')).toBe('after');
    expect(lock.size).toBe(0);
  });
});
