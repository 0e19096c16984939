/**
 * RefundHub library entry: `createRefundClient()` retrieves and normalizes refunds from Ziina,
 * Tazapay, Gr4vy, Stan and OneKey Payments.
 */
export { createRefundClient } from './client.js';
export type { AccountInfo, GetRefundOptions, RefundClient, RefundClientOptions } from './client.js';
export { loadConfig, DEFAULT_ACCOUNT } from './config/index.js';
export type { LoadedConfig, LoadConfigOptions } from './config/index.js';
export { PROVIDER_IDS, REFUND_STATUSES, FINAL_STATUSES, isFinalStatus } from './domain/refund.js';
export type { CustomerReceives, ProviderId, Refund, RefundFailure, RefundStatus } from './domain/refund.js';
export { ERROR_CODES, RefundHubError, isRefundHubError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { ISO_4217_EXPONENTS, currencyExponent } from './domain/money.js';
export { createTransport } from './transport/http.js';
export type { Transport, TransportOptions } from './transport/http.js';
export { createEmulator, Emulator } from './emulator/index.js';
export { signWebhook, verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from './signing/webhook.js';
export type { VerifyWebhookOptions } from './signing/webhook.js';
export type { EventType, RefundEvent, TrackedRefund, TrackingState } from './domain/events.js';
