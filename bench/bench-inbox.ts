import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { InboxMessage } from '../drill/notification-inbox';
import type { InboxEvent } from './inbox-process';

/** The local SMTP inbox every audience is mailed to, which each figure watches for its own notices. */
export interface BenchInbox {
  port: number;
  pid: number | undefined;
  /** Calls `listener` for every message from now on, until the returned function is called. */
  watch(listener: (message: InboxMessage) => void): () => void;
  close(): Promise<void>;
}

/** Starts the inbox in its own process (see `inbox-process.ts`) and relays its messages to the watchers. */
export async function openBenchInbox(): Promise<BenchInbox> {
  const child = fork(path.join(__dirname, 'inbox-process.ts'), { execArgv: ['--import', 'tsx'] });
  const exited = once(child, 'exit');
  const listeners = new Set<(message: InboxMessage) => void>();
  const listening = new Promise<number>((resolve, reject) => {
    child.on('message', (event: InboxEvent) => {
      if (event.type === 'listening') resolve(event.port);
      else for (const listener of listeners) listener(event.message);
    });
    void exited.then(([code]) => reject(new Error(`the inbox process exited with ${String(code)}`)));
  });
  const port = await listening;
  return {
    port,
    pid: child.pid,
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/** Resolves once `count` messages that `matches` accepts have arrived, or at `timeoutMs` with what had arrived. */
export function collectNotices(
  inbox: BenchInbox,
  matches: (message: InboxMessage) => boolean,
  count: number,
  timeoutMs: number,
): Promise<InboxMessage[]> {
  const received: InboxMessage[] = [];
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      stopWatching();
      resolve(received);
    };
    const timer = setTimeout(finish, timeoutMs);
    const stopWatching = inbox.watch((message) => {
      if (!matches(message)) return;
      received.push(message);
      if (received.length === count) finish();
    });
  });
}
