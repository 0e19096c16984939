import type { ProviderModule } from '../types.js';
import { requireUuid } from '../shared.js';
import { gr4vyConfig, type Gr4vySettings } from './config.js';
import { Gr4vyConnector } from './connector.js';
import { DEMO_GR4VY_INSTANCE_ID, DEMO_GR4VY_PRIVATE_KEY, DEMO_GR4VY_WEBHOOK_SECRET } from './demo-key.js';
import { gr4vyEmulator } from './emulator.js';
import { gr4vyNotifications } from './notifications.js';

export type { Gr4vySettings } from './config.js';
export { Gr4vyConnector } from './connector.js';

/** Gr4vy: ES512 JWT bearer auth, `GET /refunds/{refund_id}`, signed `refund.*` webhooks. */
export const gr4vy: ProviderModule<Gr4vySettings> = {
  id: 'gr4vy',
  displayName: 'Gr4vy',
  config: gr4vyConfig,
  demoSettings: () => ({ instanceId: DEMO_GR4VY_INSTANCE_ID, privateKey: DEMO_GR4VY_PRIVATE_KEY, webhookSecret: DEMO_GR4VY_WEBHOOK_SECRET }),
  validateId: (id) => requireUuid('gr4vy', id),
  createConnector: (account, ctx) => new Gr4vyConnector(account, ctx),
  notifications: gr4vyNotifications,
  emulator: gr4vyEmulator,
};
