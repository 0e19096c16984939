import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RefundHubError } from '../../src/errors.js';
import { allowPrivateWebhookUrlsFromEnv, checkWebhookUrl, createEndpoint, forbiddenAddressReason, listEndpoints } from '../../src/notify/endpoints.js';
import type { Store } from '../../src/store/index.js';
import { openTempStore } from './helpers.js';

/** Webhook URLs may not make RefundHub call into its own network (SSRF) unless the deployment opts in. */

let store: Store;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ store, cleanup } = await openTempStore());
});
afterEach(async () => {
  await cleanup();
});

/** A resolver that answers from a table (no network in tests). */
const fakeDns = (table: Record<string, string[]>) => async (host: string) => {
  const addrs = table[host];
  if (!addrs) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const rejection = async (url: string, policy: Parameters<typeof checkWebhookUrl>[1] = {}): Promise<RefundHubError> => {
  const err = await checkWebhookUrl(url, policy).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, url).toBeInstanceOf(RefundHubError);
  expect((err as RefundHubError).code).toBe('invalid_input');
  return err as RefundHubError;
};

describe('webhook URL policy', () => {
  it.each([
    ['http://127.0.0.1/hook', 'loopback'],
    ['http://127.9.9.9:8080/hook', 'loopback'],
    ['http://[::1]/hook', 'loopback'],
    ['http://2130706433/hook', 'loopback'], // 127.0.0.1 as one number: URL normalizes it
    ['http://0x7f.1/hook', 'loopback'],
    ['http://[::ffff:127.0.0.1]/hook', 'loopback'], // IPv4-mapped IPv6
    ['http://10.1.2.3/hook', 'private'],
    ['http://172.16.0.1/hook', 'private'],
    ['http://172.31.255.254/hook', 'private'],
    ['http://192.168.1.10/hook', 'private'],
    ['http://[fc00::1]/hook', 'private'],
    ['http://[fd12:3456::1]/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'], // cloud metadata
    ['http://[fe80::1]/hook', 'link-local'],
    ['http://0.0.0.0/hook', 'unspecified'],
    ['http://[::]/hook', 'unspecified'],
    ['http://224.0.0.1/hook', 'multicast'],
    ['http://[ff02::1]/hook', 'multicast'],
    ['http://[64:ff9b::7f00:1]/hook', 'translated'], // NAT64 of 127.0.0.1
    ['http://[::7f00:1]/hook', 'translated'], // IPv4-compatible 127.0.0.1
    ['http://[2002:7f00:1::1]/hook', 'translated'], // 6to4
    ['http://198.18.0.1/hook', 'special-purpose'],
    ['http://192.0.0.8/hook', 'special-purpose'],
  ])('rejects the IP literal %s (%s)', async (url, reason) => {
    const err = await rejection(url);
    expect(err.message).toContain(`${reason} address`);
    expect(err.message).toContain('REFUNDHUB_WEBHOOK_ALLOW_PRIVATE');
  });

  it('accepts public IP literals, and addresses just outside the private ranges', async () => {
    for (const url of ['https://93.184.215.14/hook', 'http://172.32.0.1/x', 'http://172.15.255.255/x', 'http://[2606:4700::1111]/x', 'http://11.0.0.1/x']) {
      await expect(checkWebhookUrl(url)).resolves.toBe(new URL(url).toString());
    }
  });

  it('resolves hostnames at creation: every address must be public', async () => {
    const lookup = fakeDns({
      'hooks.merchant.example': ['93.184.215.14', '2606:4700::1111'],
      'sneaky.example': ['93.184.215.14', '10.0.0.7'],
      'metadata.example': ['169.254.169.254'],
      localhost: ['127.0.0.1', '::1'],
      'v6local.example': ['::1'],
    });
    await expect(checkWebhookUrl('https://hooks.merchant.example/rh', { lookup })).resolves.toBe('https://hooks.merchant.example/rh');
    expect((await rejection('https://sneaky.example/rh', { lookup })).message).toMatch(/private address \(sneaky\.example resolves to 10\.0\.0\.7\)/);
    expect((await rejection('http://metadata.example/', { lookup })).message).toMatch(/link-local/);
    expect((await rejection('http://localhost:8080/hook', { lookup })).message).toMatch(/loopback/);
    expect((await rejection('http://localhost.:8080/hook', { lookup })).message).toMatch(/loopback/);
    expect((await rejection('http://v6local.example/', { lookup })).message).toMatch(/loopback/);
    expect((await rejection('https://nowhere.example/', { lookup })).message).toMatch(/does not resolve/);
  });

  it('a resolver that hangs is given up on', async () => {
    const err = await rejection('https://slow.example/', { lookup: () => new Promise(() => {}), lookupTimeoutMs: 50 });
    expect(err.message).toMatch(/could not be resolved/);
  });

  it('real DNS: localhost resolves to loopback and is rejected', async () => {
    expect((await rejection('http://localhost:9/hook')).message).toMatch(/loopback/);
  });

  it('rejects credentials in the URL and never echoes them, even with private targets allowed', async () => {
    for (const policy of [{}, { allowPrivateWebhookUrls: true }]) {
      for (const url of ['https://alice:s3cr3t-pw@hooks.example.com/x', 'https://tok3n-only@hooks.example.com/x', 'https://:s3cr3t-pw@hooks.example.com/x']) {
        const err = await rejection(url, policy);
        expect(err.message).toMatch(/user name or password/);
        expect(err.message).not.toMatch(/s3cr3t-pw|tok3n-only|alice/);
      }
    }
  });

  it('opting in allows private targets without resolving anything', async () => {
    const lookup = () => Promise.reject(new Error('must not be called'));
    for (const url of ['http://127.0.0.1:9/x', 'http://[::1]/x', 'http://10.0.0.1/x', 'http://169.254.169.254/x', 'http://receiver.internal/x']) {
      await expect(checkWebhookUrl(url, { allowPrivateWebhookUrls: true, lookup })).resolves.toBe(new URL(url).toString());
    }
  });

  it('createEndpoint applies the policy and stores nothing on rejection', async () => {
    const err = await createEndpoint(store.db, { url: 'http://127.0.0.1:9/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefundHubError);
    expect(await listEndpoints(store.db)).toEqual([]);
    const ok = await createEndpoint(store.db, { url: 'http://127.0.0.1:9/x' }, 1_000, { allowPrivateWebhookUrls: true });
    expect(ok.url).toBe('http://127.0.0.1:9/x');
    const viaDns = await createEndpoint(store.db, { url: 'https://hooks.merchant.example/rh' }, 2_000, { lookup: fakeDns({ 'hooks.merchant.example': ['93.184.215.14'] }) });
    expect((await listEndpoints(store.db)).map((e) => e.id)).toEqual([ok.id, viaDns.id]);
  });

  it('forbiddenAddressReason ignores non-IPs; the env opt-in reads REFUNDHUB_WEBHOOK_ALLOW_PRIVATE', () => {
    expect(forbiddenAddressReason('example.com')).toBeNull();
    expect(forbiddenAddressReason('8.8.8.8')).toBeNull();
    expect(allowPrivateWebhookUrlsFromEnv({ REFUNDHUB_WEBHOOK_ALLOW_PRIVATE: 'true' })).toBe(true);
    expect(allowPrivateWebhookUrlsFromEnv({ REFUNDHUB_WEBHOOK_ALLOW_PRIVATE: '1' })).toBe(true);
    expect(allowPrivateWebhookUrlsFromEnv({ REFUNDHUB_WEBHOOK_ALLOW_PRIVATE: 'false' })).toBe(false);
    expect(allowPrivateWebhookUrlsFromEnv({})).toBe(false);
  });
});
