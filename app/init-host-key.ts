import { Client } from 'ssh2';
import { sshFingerprint } from '../activities/ssh';

/** Where `init --ssh user@host[:port]` logs in. */
export interface SshLogin {
  user: string;
  host: string;
  port: number;
}

/** The key a host presented, as the config pins it and as a person compares it. */
export interface PresentedHostKey {
  /** `ssh-ed25519 AAAA…`, the form `servers[].ssh.hostKey` takes. */
  pinned: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it on the host. */
  fingerprint: string;
}

/**
 * Reads `user@host[:port]`; an IPv6 address goes in brackets, `root@[2001:db8::25]:2222`.
 *
 * @example parseSshLogin('root@mx1.example.com:2222') // { user: 'root', host: 'mx1.example.com', port: 2222 }
 */
export function parseSshLogin(text: string): SshLogin {
  const match = /^([^@\s]+)@(?:\[([0-9A-Fa-f:.]+)\]|([^@:\s[\]]+))(?::(\d+))?$/.exec(text.trim());
  const user = match?.[1];
  const host = match?.[2] ?? match?.[3];
  const port = match?.[4] === undefined ? 22 : Number(match[4]);
  if (!user || !host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--ssh must be user@host or user@host:port, not "${text}"`);
  }
  return { user, host, port };
}

/** The algorithm name at the start of an SSH public key blob, such as `ssh-ed25519`. */
function keyTypeOf(blob: Buffer): string {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  if (!/^[a-z0-9-]+$/.test(type)) throw new Error('the host presented a key that is not an SSH public key');
  return type;
}

export function presentedHostKey(blob: Buffer): PresentedHostKey {
  return { pinned: `${keyTypeOf(blob)} ${blob.toString('base64')}`, fingerprint: sshFingerprint(blob) };
}

/**
 * Opens an SSH connection only as far as the key exchange, takes the host key the server proves it holds, and hangs
 * up before authenticating: nothing about the login, the private key included, reaches the host.
 *
 * @example const { fingerprint } = await scanHostKey({ user: 'root', host: 'mx1.example.com', port: 22 }, 10_000);
 */
export function scanHostKey(login: SshLogin, timeoutMs: number): Promise<PresentedHostKey> {
  const client = new Client();
  return new Promise<PresentedHostKey>((resolve, reject) => {
    let presented: PresentedHostKey | undefined;
    client.on('error', (error) => (presented ? resolve(presented) : reject(error)));
    client.on('ready', () => reject(new Error(`${login.host}:${login.port} let us in without checking who we are`)));
    client.on('close', () =>
      presented ? resolve(presented) : reject(new Error(`${login.host}:${login.port} closed the connection`)),
    );
    try {
      client.connect({
        host: login.host,
        port: login.port,
        username: login.user,
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer): boolean => {
          presented = presentedHostKey(Buffer.from(key));
          return false;
        },
      });
    } catch (error) {
      reject(error);
    }
  }).finally(() => client.end());
}

/** `SHA256:abc` and `abc`, with or without base64 padding, name the same fingerprint. */
export function sameFingerprint(expected: string, presented: string): boolean {
  const normalized = (fingerprint: string) =>
    fingerprint
      .trim()
      .replace(/^SHA256:/i, '')
      .replace(/=+$/, '');
  return normalized(expected) !== '' && normalized(expected) === normalized(presented);
}
