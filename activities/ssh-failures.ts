import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../workflows/failure-types';
import { HostKeyMismatchError, SshHandshakeTimeoutError } from './ssh';

/**
 * Why an SSH visit to the host gave nothing, as one sentence starting `SSH to <host>:<port>`: a handshake that never
 * finished, a refused connection, a changed host key, or whatever else the connection said.
 *
 * @example describeSshFailure({ host: 'mx1', port: 22 }, error) // => 'SSH to mx1:22 refused the connection (ECONNREFUSED)'
 */
export function describeSshFailure(ssh: { host: string; port: number }, error: unknown): string {
  const endpoint = `${ssh.host}:${ssh.port}`;
  if (error instanceof SshHandshakeTimeoutError) return error.message;
  const hostKeyChanged =
    error instanceof HostKeyMismatchError ||
    (error instanceof ApplicationFailure && error.type === FailureType.HostKeyMismatch);
  if (hostKeyChanged) return `SSH to ${endpoint} stopped before logging in: ${(error as Error).message}`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED') return `SSH to ${endpoint} refused the connection (ECONNREFUSED)`;
  return `SSH to ${endpoint} failed (${error instanceof Error ? error.message : String(error)})`;
}
