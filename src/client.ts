import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { LoadedConfig } from './config/index.js';
import { accountSettings, DEFAULT_ACCOUNT, loadConfig } from './config/index.js';
import type { ProviderId, Refund } from './domain/refund.js';
import { RefundHubError } from './errors.js';
import type { Logger } from './logger.js';
import { createLogger } from './logger.js';
import { allProviders, getProvider } from './providers/registry.js';
import type { Connector } from './providers/types.js';
import type { Transport, TransportOptions } from './transport/http.js';
import { createTransport } from './transport/http.js';

export interface RefundClientOptions {
  /** A loaded configuration; by default read from `env` (process.env) and the config file. */
  config?: LoadedConfig;
  env?: Record<string, string | undefined>;
  configFile?: string;
  /** A shared transport, or options for the client's own. */
  transport?: Transport | TransportOptions;
  logger?: Logger;
  clock?: Clock;
}

export interface GetRefundOptions {
  /** Account name; `default` when omitted. */
  account?: string;
}

export interface AccountInfo {
  provider: ProviderId;
  account: string;
  configured: boolean;
  baseUrl: string;
}

export interface RefundClient {
  /** Fetches one refund from its provider and returns it normalized. */
  getRefund(provider: string, id: string, options?: GetRefundOptions): Promise<Refund>;
  /**
   * The provider's proof of refund as PDF bytes, fetched now (never cached or logged). Throws
   * `voucher_not_supported` for a provider that issues none, `voucher_not_available` when the
   * provider has none for this refund yet, `invalid_response` when what it sent is not a PDF.
   */
  getVoucher(provider: string, id: string, options?: GetRefundOptions): Promise<Buffer>;
  /** Validates a provider name and refund id without any request; returns the canonical pair. */
  validate(provider: string, id: string): { provider: ProviderId; id: string };
  /** Every configured (or configurable) account with its base URL. */
  accounts(): AccountInfo[];
  readonly config: LoadedConfig;
  close(): Promise<void>;
}

function isTransport(t: Transport | TransportOptions | undefined): t is Transport {
  return !!t && typeof (t as Transport).send === 'function';
}

/** The composition root of the retrieval layer: config, transport and one connector per account. */
export function createRefundClient(options: RefundClientOptions = {}): RefundClient {
  const config = options.config ?? loadConfig({ env: options.env, file: options.configFile });
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: 'warn' });
  const ownsTransport = !isTransport(options.transport);
  const transport = isTransport(options.transport) ? options.transport : createTransport({ clock, ...(options.transport ?? {}) });
  const connectors = new Map<string, Connector>();

  function connectorFor(provider: ProviderId, account: string): Connector {
    const key = `${provider}\u0000${account}`;
    let c = connectors.get(key);
    if (!c) {
      const module = getProvider(provider);
      const settings = module.config.resolve(accountSettings(config, provider, account));
      c = module.createConnector({ provider, name: account, settings }, { transport, clock, logger: logger.child({ provider, account }) });
      connectors.set(key, c);
    }
    return c;
  }

  function validate(provider: string, id: string): { provider: ProviderId; id: string } {
    if (typeof provider !== 'string' || provider.trim() === '') throw new RefundHubError('invalid_input', 'provider is required');
    const module = getProvider(provider.trim());
    if (typeof id !== 'string') throw new RefundHubError('invalid_input', 'refund id must be a string', { provider: module.id });
    return { provider: module.id, id: module.validateId(id) };
  }

  return {
    config,
    validate,
    async getRefund(provider, id, opts = {}) {
      const v = validate(provider, id);
      return connectorFor(v.provider, opts.account ?? DEFAULT_ACCOUNT).getRefund(v.id);
    },
    async getVoucher(provider, id, opts = {}) {
      const v = validate(provider, id);
      const module = getProvider(v.provider);
      const connector = connectorFor(v.provider, opts.account ?? DEFAULT_ACCOUNT);
      if (!connector.getVoucher) {
        throw new RefundHubError('voucher_not_supported', `${module.displayName} issues no proof-of-refund document (only OneKey has a voucher)`, { provider: v.provider, retryable: false });
      }
      const pdf = await connector.getVoucher(v.id);
      if (pdf === null) throw new RefundHubError('voucher_not_available', `${v.provider}: refund ${v.id} has no proof of refund yet`, { provider: v.provider, retryable: false });
      return pdf;
    },
    accounts() {
      const out: AccountInfo[] = [];
      for (const module of allProviders()) {
        for (const [account, raw] of config.accounts.get(module.id) ?? []) {
          let baseUrl: string;
          try {
            baseUrl = module.config.baseUrl(raw);
          } catch {
            baseUrl = '(invalid)';
          }
          out.push({ provider: module.id, account, configured: module.config.isConfigured(raw), baseUrl });
        }
      }
      return out;
    },
    async close() {
      if (ownsTransport) await transport.close();
    },
  };
}
