import { requirePositiveInteger } from '../shared.js';
import type { ProviderModule } from '../types.js';
import { onekeyConfig, type OnekeySettings } from './config.js';
import { OnekeyConnector } from './connector.js';
import { onekeyEmulator } from './emulator.js';
import { onekeyNotifications } from './notifications.js';

export type { OnekeySettings } from './config.js';
export { onekeyAuthHeaders, onekeySignature, formatXDate } from './auth.js';
export { OnekeyConnector, classifyOnekeyError } from './connector.js';

/** OneKey Payments (a white-label of Directa24 / D24): refund status over D24's HMAC-signed v3 API. */
export const onekey: ProviderModule<OnekeySettings> = {
  id: 'onekey',
  displayName: 'OneKey Payments',
  config: onekeyConfig,
  demoSettings: () => ({ login: 'demo-onekey-login', secretKey: 'demo-onekey-secret' }),
  // OneKey refund ids are integers (spec: `refund_id` schema type integer).
  validateId: (id) => requirePositiveInteger('onekey', id),
  createConnector: (account, ctx) => new OnekeyConnector(account, ctx),
  notifications: onekeyNotifications,
  emulator: onekeyEmulator,
};
