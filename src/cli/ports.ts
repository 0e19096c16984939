import { createServer, type Server } from 'node:net';
import { RefundHubError } from '../errors.js';

/**
 * Listening errors in the user's terms: which port, what is wrong, and how to pick another.
 * `how` names the flag or variable (`--port <port> or REFUNDHUB_PORT`).
 */
export function listenError(e: unknown, host: string, port: number, how: string): RefundHubError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const where = `${host}:${port}`;
  const why =
    code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use (by another RefundHub, or another program)`
    : code === 'EACCES' ? `no permission to listen on ${where} (ports below 1024 need privileges)`
    : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `${host} is not an address of this machine`
    : `cannot listen on ${where}: ${code ?? (e as Error)?.message ?? String(e)}`;
  const hostProblem = code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
  return new RefundHubError('invalid_input', `${why}; choose another with ${hostProblem ? '--host <host>' : how}`, { cause: e });
}

/**
 * Binds a port and holds it, so a command can check that it will be able to listen before it
 * does anything it cannot undo (the demo resets its database file). `release()` frees it for
 * the real server, which listens right after in the same tick of work.
 */
export async function reservePort(host: string, port: number, how: string): Promise<{ release(): Promise<void> }> {
  const server: Server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    throw listenError(e, host, port, how);
  }
  return {
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
