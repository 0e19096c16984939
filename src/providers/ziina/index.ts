import type { ProviderModule, RawSettings } from '../types.js';
import { ziinaConfig, type ZiinaSettings } from './config.js';
import { validateZiinaId, ZiinaConnector } from './connector.js';
import { ziinaEmulator } from './emulator.js';
import { ziinaNotifications } from './notifications.js';

export type { ZiinaSettings } from './config.js';

/** Fixed, obviously fake credentials the emulator accepts when none are configured. */
export const ZIINA_DEMO_TOKEN = 'demo-ziina-token';
export const ZIINA_DEMO_WEBHOOK_SECRET = 'demo-ziina-webhook-secret';

/** Ziina: bearer-token REST API, minor-unit amounts, HMAC-signed `refund.status.updated` webhooks. */
export const ziina: ProviderModule<ZiinaSettings> = {
  id: 'ziina',
  displayName: 'Ziina',
  config: ziinaConfig,
  demoSettings(): RawSettings {
    return { token: ZIINA_DEMO_TOKEN, webhookSecret: ZIINA_DEMO_WEBHOOK_SECRET };
  },
  validateId: validateZiinaId,
  createConnector: (account, ctx) => new ZiinaConnector(account, ctx),
  notifications: ziinaNotifications,
  emulator: ziinaEmulator,
};
