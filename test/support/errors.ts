import { expect } from 'vitest';
import { RefundHubError } from '../../src/errors.js';

/** Awaits a promise that must reject with a RefundHubError, and returns that error. */
export async function rejectionOf(p: Promise<unknown>): Promise<RefundHubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    return e as RefundHubError;
  }
  throw new Error('expected a RefundHubError rejection, got a result');
}
