import nodemailer from 'nodemailer';
import { readPostfixQueue } from '../postfix';
import { LOOPBACK, waitUntil } from '../processes';
import { stopRelay } from '../relay';
import { waitServiceDown } from '../services';
import type { ScenarioRun } from './types';

/** How many messages `deferred-backlog` leaves in the deferred queue. */
export const DEFERRED_BACKLOG_SIZE = 5;

export const deferredBacklog: ScenarioRun = async ({ tools, layout, settings }, record) => {
  await stopRelay(layout);
  await waitServiceDown(layout, settings, 'relay');
  record(`stop the relay sink on 127.0.0.1:${settings.ports.relay}: the upstream relay is unreachable`);
  const transport = nodemailer.createTransport({ host: LOOPBACK, port: settings.ports.smtp, ignoreTLS: true });
  const queueIds: string[] = [];
  try {
    for (let index = 1; index <= DEFERRED_BACKLOG_SIZE; index += 1) {
      const sent = await transport.sendMail({
        from: 'lab-sender@lab.test',
        to: 'someone@remote.test',
        subject: `mailmend lab backlog ${index}/${DEFERRED_BACKLOG_SIZE}`,
        text: 'Held in the deferred queue while the upstream relay is unreachable.',
      });
      const queueId = /queued as ([0-9A-Za-z]+)/.exec(sent.response)?.[1];
      if (queueId) queueIds.push(queueId);
    }
  } finally {
    transport.close();
  }
  record(`submit ${DEFERRED_BACKLOG_SIZE} messages for someone@remote.test to 127.0.0.1:${settings.ports.smtp}`);
  await waitUntil(`the ${DEFERRED_BACKLOG_SIZE} messages to reach the deferred queue`, async () => {
    const deferred = new Set(
      (await readPostfixQueue(tools, layout)).filter((m) => m.queueName === 'deferred').map((m) => m.queueId),
    );
    return queueIds.length === DEFERRED_BACKLOG_SIZE && queueIds.every((id) => deferred.has(id));
  });
  record(`wait until ${queueIds.join(', ')} sit in the deferred queue (postqueue -j)`);
};
