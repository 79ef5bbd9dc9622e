import net from 'node:net';
import { LOOPBACK } from './processes';

/**
 * A plain-text TCP conversation as an SMTP or IMAP client has it: what the server answers, and whether it answers at
 * all. Scenarios use it to see their outage from outside, the way mail clients and mailmend's probes do.
 */
export interface Conversation {
  /** The text up to and including the first line that `ends` accepts; undefined when the server stays silent. */
  reply(ends: (line: string) => boolean, timeoutMs?: number): Promise<string | undefined>;
  send(line: string): void;
  close(): void;
}

/** An SMTP reply ends with a line whose code is followed by a space, e.g. `250 OK` after `250-PIPELINING`. */
export const smtpReplyEnd = (line: string): boolean => /^\d{3}( |$)/.test(line);
/** An IMAP command ends with its tagged response; the greeting is a single untagged line. */
export const imapTagged =
  (tag: string) =>
  (line: string): boolean =>
    line.startsWith(`${tag} `);
export const anyLine = (): boolean => true;

export function openConversation(port: number, connectTimeoutMs = 5_000): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`127.0.0.1:${port} did not accept a connection within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(conversationOn(socket));
    });
  });
}

function conversationOn(socket: net.Socket): Conversation {
  let buffered = '';
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    waiting?.();
  });
  socket.on('close', () => waiting?.());
  /** The text through the first complete line `ends` accepts, removed from the buffer. */
  const take = (ends: (line: string) => boolean): string | undefined => {
    let offset = 0;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n', offset)) {
      const line = buffered.slice(offset, newline).replace(/\r$/, '');
      offset = newline + 1;
      if (ends(line)) {
        const text = buffered.slice(0, offset);
        buffered = buffered.slice(offset);
        return text;
      }
    }
    return undefined;
  };
  return {
    async reply(ends, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = take(ends);
        if (text !== undefined || socket.destroyed || Date.now() >= deadline) return text;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          waiting = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiting = undefined;
      }
    },
    send(line) {
      socket.write(`${line}\r\n`);
    },
    close() {
      socket.destroy();
    },
  };
}
