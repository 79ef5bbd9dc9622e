import { createLocalTime } from '../../activities/templates/local-time';
import { labHeal } from '../../lab';
import { installNearExpiryCertificate } from '../../lab/tls';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { testNoIncidentEndedBadly } from '../support/incident-outcomes';
import { report, startLabE2e, type LabE2e } from '../support/lab-e2e';

let env: LabE2e;

beforeAll(async () => {
  env = await startLabE2e('e2e-healthy', ['healthy', 'expiring']);
}, 120_000);

afterEach(async () => {
  if (env) await labHeal(env.stateDir);
}, 120_000);

afterAll(async () => {
  await env?.close();
}, 120_000);

async function alertAndWait(serverId: string): Promise<{ final: IncidentState; alertToOutcomeMs: number }> {
  const alertedAt = Date.now();
  expect((await env.stack.postAlert({ server: serverId, alertname: 'MailServerDown' })).status).toBe(202);
  const handle = env.client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
  const final = await handle.result();
  return { final, alertToOutcomeMs: Date.now() - alertedAt };
}

function itTeamMail(serverId: string, subject: RegExp) {
  return env.stack.mailSink.waitForMail(
    (mail) =>
      mail.headers.get('x-mailmend-incident') === incidentWorkflowId(serverId) &&
      subject.test(String(mail.headers.get('subject') ?? '')),
  );
}

describe('a healthy lab host', () => {
  test('closes as a false alarm only after mail went the whole way: delivered, found, TLS checked', async () => {
    const serverId = env.serverIdFor('healthy');
    const { final, alertToOutcomeMs } = await alertAndWait(serverId);

    expect(final.outcome).toBe('false-alarm');
    expect(final.assessment?.smtpDelivery).toMatchObject({ ok: true, detail: expect.stringMatching(/queued as/) });
    expect(final.assessment?.imapLogin?.ok).toBe(true);
    expect(final.assessment?.smtpTls?.ok).toBe(true);
    expect(final.assessment?.imapTls?.ok).toBe(true);
    expect(final.assessment?.certificateWarnings ?? []).toEqual([]);
    expect(final.notifications.map((sent) => sent.kind)).not.toContain('certificate-expiry');
    expect(final.diagnosis).toBeUndefined();
    report(`healthy: alert->false alarm ${alertToOutcomeMs} ms, assessment ${final.assessment?.elapsedMs} ms`);
  });

  test('with a certificate ending in five days: a false alarm, and the IT team is warned with the date', async () => {
    const serverId = env.serverIdFor('expiring');
    const validity = await installNearExpiryCertificate(env.lab.paths, 5);
    const { final, alertToOutcomeMs } = await alertAndWait(serverId);

    expect(final.outcome).toBe('false-alarm');
    const warnings = final.assessment?.certificateWarnings ?? [];
    expect(warnings.map((warning) => warning.service).sort()).toEqual(['imap', 'smtp']);
    for (const warning of warnings) {
      expect(Date.parse(warning.validTo)).toBe(Math.floor(validity.notAfter.getTime() / 1000) * 1000);
      expect(warning.daysLeft).toBe(5);
    }
    const warned = final.notifications.filter((sent) => sent.kind === 'certificate-expiry');
    expect(warned.map((sent) => `${sent.audience}/${sent.ok}`)).toEqual(['itTeam/true']);
    const mail = await itTeamMail(serverId, /certificate/i);
    expect(mail.text).toContain(createLocalTime('en', 'UTC').long(warnings[0]?.validTo ?? ''));
    report(`expiring certificate: alert->false alarm with warning ${alertToOutcomeMs} ms`);
  });
});

testNoIncidentEndedBadly(() => ({ client: env.client, incidents: env.incidents() }));
