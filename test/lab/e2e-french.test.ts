import { approve, confirm } from '../../client/incidents';
import { labBreak, labHeal } from '../../lab';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId, type AudienceName } from '../../workflows/messages';
import { waitForState } from '../support/incidents';
import { testNoIncidentEndedBadly } from '../support/incident-outcomes';
import { report, startLabE2e, type LabE2e } from '../support/lab-e2e';

let env: LabE2e;

beforeAll(async () => {
  env = await startLabE2e('e2e-french', ['fr'], { locale: 'fr', timeZone: 'Europe/Paris' });
}, 120_000);

afterAll(async () => {
  if (env) await labHeal(env.stateDir);
  await env?.close();
}, 120_000);

interface SentMessage {
  audience: AudienceName;
  kind: string;
  text: string;
}

/** Every message the incident sent, as its readers got it: IT and management by mail, users on the status page. */
function messagesFor(serverId: string): SentMessage[] {
  const incidentId = incidentWorkflowId(serverId);
  const mails = env.stack.mailSink.received
    .filter((mail) => mail.headers.get('x-mailmend-incident') === incidentId)
    .map((mail) => ({
      audience: mail.headers.get('x-mailmend-audience') as AudienceName,
      kind: '',
      text: `${mail.headers.get('subject') ?? ''}\n\n${mail.text}`,
    }));
  const posts = env.stack.chatSink.requests
    .map((request) => request.body as { text: string; mailmend: { kind: string; incidentId: string } })
    .filter((body) => body.mailmend.incidentId === incidentId)
    .map((body) => ({ audience: 'users' as const, kind: body.mailmend.kind, text: body.text }));
  return [...mails, ...posts];
}

// Europe/Paris is UTC+1 in winter and UTC+2 in summer; Intl names the offset either way.
const PARIS_TIME = /\d{1,2} \p{L}+ 20\d\d à \d\d:\d\d \(UTC\+[12]\)/u;

describe('a French-speaking team', () => {
  test('every audience hears of the outage and its end in French, with times in its own zone', async () => {
    const serverId = env.serverIdFor('fr');
    await labBreak(env.stateDir, 'postfix-stopped');
    expect((await env.stack.postAlert({ server: serverId, alertname: 'MailServerDown' })).status).toBe(202);
    const handle = env.client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
    await waitForState(handle, (state) => state.phase === 'awaiting-approval', 90_000);
    await approve(env.client, serverId, { by: 'alice' });
    await waitForState(handle, (state) => state.roundTrip?.ok === true, 120_000);
    await confirm(env.client, serverId, { by: 'alice' });
    await confirm(env.client, serverId, { by: 'bob' });
    const final = await handle.result();
    expect(final.outcome).toBe('closed');
    await env.stack.mailSink.waitForMail(
      (mail) =>
        mail.headers.get('x-mailmend-incident') === incidentWorkflowId(serverId) &&
        mail.headers.get('x-mailmend-audience') === 'management' &&
        /rétablie/.test(mail.headers.get('subject') ?? ''),
    );

    const messages = messagesFor(serverId);
    for (const audience of ['itTeam', 'management', 'users'] as const) {
      const theirs = messages.filter((message) => message.audience === audience);
      expect(theirs.length).toBeGreaterThanOrEqual(2);
      const [first, last] = [theirs[0], theirs[theirs.length - 1]];
      report(`first message to ${audience}:\n${first?.text}\n---\nlast message to ${audience}:\n${last?.text}\n===`);
      for (const message of theirs) expect(message.text).not.toMatch(/GMT|\bUTC\b(?!\+)/);
      // The IT team's mails also quote the diagnosis, which is the hosts' own English (log lines, commands).
      if (audience !== 'itTeam') {
        for (const message of theirs) expect(message.text).not.toMatch(/\b(the|is|we|has been|will)\b/i);
      }
      expect(theirs.some((message) => PARIS_TIME.test(message.text))).toBe(true);
    }
    const users = messages.filter((message) => message.audience === 'users');
    for (const message of users) {
      expect(message.text).not.toContain(serverId);
      expect(message.text.toLowerCase()).not.toContain('mailmend');
      expect(message.text).not.toMatch(/postfix|dovecot/i);
    }
    expect(users[0]?.text).toMatch(/messagerie/);
    const management = messages.filter((message) => message.audience === 'management');
    for (const message of management) expect(message.text).not.toContain(final.diagnosis?.rootCause ?? '\u0000');
    const itTeam = messages.filter((message) => message.audience === 'itTeam');
    for (const message of itTeam) expect(message.text).toMatch(/Gravité|Serveur/);
    expect(itTeam[0]?.text).not.toContain('incidents approve');
    expect(itTeam.some((message) => message.text.includes(`npx mailmend incidents approve ${serverId}`))).toBe(true);
  });
});

testNoIncidentEndedBadly(() => ({ client: env.client, incidents: env.incidents() }));
