import { labBreak, labStatus } from '../../lab';
import { waitUntil } from '../../lab/processes';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { expectNoIncidentEndedBadly, NO_BAD_INCIDENT_ENDS } from '../support/incident-outcomes';
import { report, startTestCluster, type TestCluster } from '../support/test-cluster';

const WEBHOOK_A = 0;
const WEBHOOK_B = 1;
const DIAGNOSIS_WAIT_MS = 150_000;
const FIX_WAIT_MS = 180_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster('webhooks-cli');
}, 600_000);

afterAll(async () => {
  await cluster?.close();
}, 180_000);

/**
 * Polls webhook B until the incident's state, as B answers it, satisfies `until`; every phase B reported is kept, so a
 * timeout says how far the incident got.
 */
async function waitViaWebhookB(
  what: string,
  until: (state: IncidentState) => boolean,
  timeoutMs: number,
  phases: string[],
): Promise<IncidentState> {
  let latest: IncidentState | undefined;
  let lastAnswer = '';
  await waitUntil(
    `webhook B to report the incident ${what}`,
    async () => {
      const answer = await cluster.incidentViaWebhook(WEBHOOK_B);
      lastAnswer = `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
      if (!answer.state) return false;
      latest = answer.state;
      if (phases.at(-1) !== latest.phase) phases.push(latest.phase);
      return until(latest);
    },
    {
      timeoutMs,
      intervalMs: 500,
      detail: async () => `phases seen: ${phases.join(' -> ') || 'none'}; last answer: ${lastAnswer}`,
    },
  );
  if (!latest) throw new Error('unreachable: the wait ended without a state');
  return latest;
}

async function postfixUp(): Promise<boolean> {
  const status = await labStatus(cluster.labStateDir);
  return status.services.find((service) => service.service === 'postfix')?.up === true;
}

describe('webhook A opens the incident, the CLI approves it, webhook B follows it to the end', () => {
  test('postfix-stopped on the lab: alert to A, approval and confirmation by the mailmend CLI, state from B', async () => {
    const serverId = cluster.serverId;
    const workflowId = incidentWorkflowId(serverId);
    const before = await cluster.incidentViaWebhook(WEBHOOK_B);
    expect(before.status).toBe(404);

    await labBreak(cluster.labStateDir, 'postfix-stopped');
    expect(await postfixUp()).toBe(false);
    const alertedAt = Date.now();
    const posted = await cluster.postAlert(WEBHOOK_A, { alertname: 'MailServerDown' });
    const accepted = (await posted.json()) as { accepted?: { workflowId: string; delivered: string }[] };
    expect({ status: posted.status, accepted: accepted.accepted }).toEqual({
      status: 202,
      accepted: [expect.objectContaining({ workflowId, delivered: 'opened-or-joined' })],
    });

    const phases: string[] = [];
    const awaiting = await waitViaWebhookB(
      'awaiting approval',
      (state) => state.phase === 'awaiting-approval' || ['escalated', 'closed', 'false-alarm'].includes(state.phase),
      DIAGNOSIS_WAIT_MS,
      phases,
    );
    const alertToAwaitingMs = Date.now() - alertedAt;
    expect({ phase: awaiting.phase, action: awaiting.pendingApproval?.actionId }).toEqual({
      phase: 'awaiting-approval',
      action: 'start-postfix',
    });
    expect(awaiting.diagnosis?.rootCause).toMatch(/postfix/i);

    const approvedAt = Date.now();
    const approved = await cluster.mailmend(
      'incidents',
      'approve',
      serverId,
      '--by',
      'alice',
      '--comment',
      'approved from the CLI',
    );
    expect(approved).toEqual({
      code: 0,
      stdout: `alice approved start-postfix on the incident on ${serverId}; the fix runs now\n`,
      stderr: '',
    });

    const verified = await waitViaWebhookB(
      'verified and waiting for confirmation',
      (state) => (state.phase === 'verification' && state.roundTrip?.ok === true) || state.outcome !== undefined,
      FIX_WAIT_MS,
      phases,
    );
    expect({
      phase: verified.phase,
      roundTrip: verified.roundTrip?.ok,
      required: verified.confirmationsRequired,
    }).toEqual({ phase: 'verification', roundTrip: true, required: 1 });
    const approveToVerifiedMs = Date.now() - approvedAt;
    expect(await postfixUp()).toBe(true);

    const confirmed = await cluster.mailmend('incidents', 'confirm', serverId, '--by', 'carol');
    expect(confirmed).toEqual({
      code: 0,
      stdout: `carol confirmed the fix on ${serverId} (1/1 confirmations)\n`,
      stderr: '',
    });
    const closed = await waitViaWebhookB('closed', (state) => state.phase === 'closed', FIX_WAIT_MS, phases);
    const approveToClosedMs = Date.now() - approvedAt;
    report(
      `webhooks-and-cli: alert->awaiting approval (seen by webhook B) ${alertToAwaitingMs} ms, ` +
        `approve->verified ${approveToVerifiedMs} ms, approve->closed ${approveToClosedMs} ms (confirmed once verified); ` +
        `phases via B: ${phases.join(' -> ')}`,
    );

    expect({ outcome: closed.outcome, approvedBy: closed.approvedBy, confirmedBy: closed.confirmations }).toEqual({
      outcome: 'closed',
      approvedBy: 'alice',
      confirmedBy: [expect.objectContaining({ by: 'carol' })],
    });
    expect(closed.remediations.map((remediation) => remediation.actionId)).toEqual(['start-postfix']);
    expect(phases).toEqual(expect.arrayContaining(['awaiting-approval', 'verification', 'closed']));
    expect(await postfixUp()).toBe(true);

    // Every notice the incident says reached the IT team is a message in the sink, the resolution among them.
    const resolvedMail = await cluster.mail.waitForMail(
      (mail) =>
        mail.headers.get('x-mailmend-incident') === workflowId &&
        mail.headers.get('x-mailmend-audience') === 'itTeam' &&
        /verified fixed/.test(mail.headers.get('subject') ?? ''),
    );
    expect(resolvedMail.envelopeTo).toEqual(['it@example.org']);
    const itNotices = closed.notifications.filter((notice) => notice.audience === 'itTeam');
    expect(itNotices.every((notice) => notice.ok)).toBe(true);
    expect(itNotices.map((notice) => notice.kind)).toEqual(expect.arrayContaining(['outage', 'resolved']));
    const itMail = cluster.mail.received.filter(
      (mail) =>
        mail.headers.get('x-mailmend-incident') === workflowId && mail.headers.get('x-mailmend-audience') === 'itTeam',
    );
    expect(itMail).toHaveLength(itNotices.length);
    report(`webhooks-and-cli: IT notices ${itNotices.map((notice) => notice.kind).join(', ')}`);
  }, 600_000);

  test(
    NO_BAD_INCIDENT_ENDS,
    async () => {
      await cluster.withClient((client) => expectNoIncidentEndedBadly(client, cluster.incidents()));
    },
    120_000,
  );
});
