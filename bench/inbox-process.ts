import { openNotificationInbox, type InboxMessage } from '../drill/notification-inbox';

/** What the inbox process tells the bench: its port once it listens, then every message as it arrives. */
export type InboxEvent = { type: 'listening'; port: number } | { type: 'message'; message: InboxMessage };

/**
 * The SMTP relay the notices go to, in a process of its own as a real relay would be, so parsing a thousand mails is
 * not counted as mailmend's CPU or memory. Stops when the bench disconnects.
 */
async function main(): Promise<void> {
  const send = (event: InboxEvent): void => void process.send?.(event);
  const inbox = await openNotificationInbox(0, (message) => send({ type: 'message', message }));
  process.once('disconnect', () => void inbox.close().then(() => process.exit(0)));
  send({ type: 'listening', port: inbox.port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
