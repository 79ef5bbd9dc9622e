import { once } from 'node:events';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface NotificationInbox {
  port: number;
  close(): Promise<void>;
}

/**
 * A local SMTP inbox for drills: `mailmend.lab.yaml` points the fallback relay here, so the operator sees what each
 * audience would have been told, as it is sent.
 */
export async function openNotificationInbox(
  port: number,
  onMessage: (to: string, subject: string) => void,
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
          onMessage(to, parsed.subject ?? '(no subject)');
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
  return { port, close: () => new Promise<void>((resolve) => server.close(resolve)) };
}
