import { describe, expect, it } from 'vitest';
import { databaseOpenError } from './index.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('databaseOpenError: down is store_error, misconfigured is not_configured', () => {
  it('connection failures and a server not taking connections are store_error (exit 6)', () => {
    for (const e of [
      pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5439'),
      pgError('ENOTFOUND', 'getaddrinfo ENOTFOUND db.internal'),
      pgError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:5432'),
      pgError('57P03', 'the database system is starting up'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout'),
      // Node tries each address of "localhost" and reports them together, with an empty message.
      Object.assign(new AggregateError([new Error('connect ECONNREFUSED ::1:5439'), new Error('connect ECONNREFUSED 127.0.0.1:5439')], ''), { code: 'ECONNREFUSED' }),
    ]) {
      const err = databaseOpenError(e, 'cannot open postgres://app:****@db/x');
      expect(err.code, e.message).toBe('store_error');
      expect(err.exitCode).toBe(6);
      expect(err.message).toMatch(/^cannot open postgres:\/\/app:\*\*\*\*@db\/x: the database is unreachable or not accepting connections \(.+\)$/);
    }
  });

  it('a wrong user, password or database name stays not_configured (exit 2), and URLs in the detail are masked', () => {
    for (const e of [
      pgError('28P01', 'password authentication failed for user "app"'),
      pgError('3D000', 'database "x" does not exist'),
      new Error('invalid connection string postgres://app:hunter2pw@db/x'),
    ]) {
      const err = databaseOpenError(e, 'cannot open db');
      expect(err.code, e.message).toBe('not_configured');
      expect(err.message).not.toContain('hunter2pw');
    }
  });
});
