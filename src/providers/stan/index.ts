import type { ProviderModule } from '../types.js';
import { requireUuid } from '../shared.js';
import { stanConfig, type StanSettings } from './config.js';
import { StanConnector } from './connector.js';
import { stanEmulator } from './emulator.js';
import { stanNotifications } from './notifications.js';

export type { StanSettings } from './config.js';
export { StanConnector } from './connector.js';

/**
 * Stan (Stan Pay, France): `GET /v1/refunds/{refund_id}` with HTTP Basic `client_id:client_secret`.
 * Refunds are reversed payments (they reuse the payment status words) and carry no currency,
 * so amounts are read in the account's configured currency (default EUR).
 */
export const stan: ProviderModule<StanSettings> = {
  id: 'stan',
  displayName: 'Stan',
  config: stanConfig,
  demoSettings: () => ({ clientId: 'demo-stan-client', clientSecret: 'demo-stan-secret' }),
  validateId: (id) => requireUuid('stan', id),
  createConnector: (account, ctx) => new StanConnector(account, ctx),
  notifications: stanNotifications,
  emulator: stanEmulator,
};
