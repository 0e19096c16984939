import { requireOpaqueId } from '../shared.js';
import type { ProviderModule } from '../types.js';
import { tazapayConfig, type TazapaySettings } from './config.js';
import { TazapayConnector } from './connector.js';
import { tazapayEmulator } from './emulator.js';
import { tazapayNotifications } from './notifications.js';

export type { TazapaySettings } from './config.js';

/** Demo credentials the emulator accepts when no REFUNDHUB_TAZAPAY_* variables are set. */
export const TAZAPAY_DEMO_SETTINGS = Object.freeze({
  apiKey: 'demo-tazapay-key',
  apiSecret: 'demo-tazapay-secret',
  webhookSecret: 'demo-tazapay-webhook-secret',
});

/**
 * Tazapay: `GET /v3/refund/{id}` with HTTP Basic `apiKey:apiSecret`, answered with the envelope
 * `{status, message, data}`; amounts always carry two implied decimals; notifications signed
 * with Base64 HMAC-SHA256 over `event.id + rawBody + event.created_at`.
 */
export const tazapay: ProviderModule<TazapaySettings> = {
  id: 'tazapay',
  displayName: 'Tazapay',
  config: tazapayConfig,
  demoSettings: () => ({ ...TAZAPAY_DEMO_SETTINGS }),
  // Tazapay ids are opaque (`rfd_...`); no documented format beyond that.
  validateId: (id) => requireOpaqueId('tazapay', id),
  createConnector: (account, ctx) => new TazapayConnector(account, ctx),
  notifications: tazapayNotifications,
  emulator: tazapayEmulator,
};
