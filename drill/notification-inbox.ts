import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface NotificationInbox {
  /** The port it listens on; the one asked for, or the one the system chose for 0. */
  port: number;
  close(): Promise<void>;
}

export interface InboxMessage {
  to: string;
  subject: string;
  /** The plain-text body, as the audience reads it. */
  text: string;
  /** mailmend's `X-Mailmend-Incident` header: the incident the notification is about. */
  incidentId?: string;
  receivedAt: number;
}

/**
 * A local SMTP inbox for drills and the benchmark: `mailmend.lab.yaml` points the fallback relay here, so the operator
 * sees what each audience would have been told, as it is sent.
 */
export async function openNotificationInbox(
  port: number,
  onMessage: (message: InboxMessage) => void,
): Promise<NotificationInbox> {
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    onData: (stream, session, callback) => {
      const to = session.envelope.rcptTo.map((recipient) => recipient.address).join(', ');
      simpleParser(stream)
        .then((parsed) => {
          const incidentId = parsed.headers.get('x-mailmend-incident');
          onMessage({
            to,
            subject: parsed.subject ?? '(no subject)',
            text: parsed.text ?? '',
            ...(typeof incidentId === 'string' ? { incidentId } : {}),
            receivedAt: Date.now(),
          });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.listen(port, '127.0.0.1');
  await Promise.race([
    once(server.server, 'listening'),
    once(server, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  return {
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}
