import { startTestLab, stopTestLab } from '../support/test-lab';
import { readFile } from 'node:fs/promises';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import { TOKEN_HEADER } from '../../activities/mail-roundtrip';
import { createProbeActivities } from '../../activities/probes';
import { SecretResolver } from '../../config/secrets';
import { labHeal, type LabInfo } from '../../lab/lab';
import { requireLabTools } from '../../lab/prerequisites';
import { runOrThrow } from '../../lab/processes';
import { installExpiredCertificate, installNearExpiryCertificate } from '../../lab/tls';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { classifyProbes } from '../../workflows/assessment';
import type { ProbeReport } from '../../workflows/messages';

let stateDir: string;
let lab: LabInfo;

beforeAll(async () => {
  ({ stateDir, lab } = await startTestLab('lab-tls', 'lab-tls'));
}, 60_000);

afterAll(() => stopTestLab(stateDir), 60_000);

/** The production probe activity against the lab, as the worker builds it from the lab's config fragment. */
function assess(): Promise<ProbeReport> {
  const { probeServer } = createProbeActivities({
    servers: new Map([[lab.server.id, lab.server]]),
    probeTimeoutMs: 5_000,
    deliveryWaitMs: 5_000,
    mailHost: createMailHostAccess(new SecretResolver(process.env, stateDir)),
    logger: pino({ level: 'silent' }),
  });
  return probeServer({ context: { incidentId: 'incident-lab-tls', serverId: lab.server.id, step: 'assessment' } });
}

function verdict(report: ProbeReport) {
  return classifyProbes(report, undefined, { endToEnd: true });
}

/** Messages in the canary's INBOX that carry a mailmend token, read by a client that trusts only the lab CA. */
async function tokenMessagesInCanary(): Promise<number> {
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: lab.ports.imap,
    secure: false,
    doSTARTTLS: true,
    tls: { ca: await readFile(lab.paths.tlsCaCert, 'utf8') },
    auth: { user: 'canary@lab.test', pass: (await readFile(lab.paths.canaryPasswordFile, 'utf8')).trim() },
    logger: false,
  });
  await imap.connect();
  try {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      const found = await imap.search({ header: { [TOKEN_HEADER.toLowerCase()]: '' } }, { uid: true });
      return found ? found.length : 0;
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
}

function expectEveryCheckPasses(report: ProbeReport): void {
  const { tcpSmtp, smtp, imap, imapLogin, deferredQueue, smtpDelivery, smtpTls, imapTls } = report;
  const checks = { tcpSmtp, smtp, imap, imapLogin, deferredQueue, smtpDelivery, smtpTls, imapTls };
  for (const [name, check] of Object.entries(checks)) expect([name, check?.ok]).toEqual([name, true]);
}

describe('the lab over TLS', () => {
  it('assesses a healthy lab as healthy: mail is queued, arrives, is deleted, and both certificates check out', async () => {
    const report = await assess();
    expectEveryCheckPasses(report);
    expect(report.smtpDelivery?.detail).toMatch(/^queued as [0-9A-F]+ for canary@lab\.test, token mailmend-probe-/);
    expect(report.imapLogin?.detail).toMatch(
      /^canary logged in, opened INBOX and found token mailmend-probe-\S+ \(queued as /,
    );
    expect(report.smtpTls?.detail).toMatch(
      /^STARTTLS: TLSv1\.3, CN=mx\.lab\.test issued by CN=mailmend lab CA, valid until/,
    );
    expect(report.imapTls?.detail).toMatch(/^STARTTLS: TLSv1\.3, CN=mx\.lab\.test issued by CN=mailmend lab CA/);
    expect(report.certificateWarnings).toBeUndefined();
    expect(verdict(report)).toEqual({ severity: 'none', scope: 'none', healthy: true });
    expect(await tokenMessagesInCanary()).toBe(0);
  });

  it('deletes tokens that arrived a day after their probe gave up, and keeps younger ones', async () => {
    const imap = new ImapFlow({
      host: '127.0.0.1',
      port: lab.ports.imap,
      secure: false,
      tls: { ca: await readFile(lab.paths.tlsCaCert, 'utf8') },
      auth: { user: 'canary@lab.test', pass: (await readFile(lab.paths.canaryPasswordFile, 'utf8')).trim() },
      logger: false,
    });
    const late = (token: string) =>
      `From: mailmend@lab.test\r\nTo: canary@lab.test\r\nSubject: late ${token}\r\n${TOKEN_HEADER}: ${token}\r\n\r\nlate\r\n`;
    await imap.connect();
    try {
      await imap.append('INBOX', late('mailmend-probe-stale'), [], new Date(Date.now() - 3 * 24 * 60 * 60_000));
      await imap.append('INBOX', late('mailmend-probe-young'), [], new Date(Date.now() - 60 * 60_000));
      expect(await tokenMessagesInCanary()).toBe(2);

      expectEveryCheckPasses(await assess());

      expect(await tokenMessagesInCanary()).toBe(1);
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const young = await imap.search({ header: { [TOKEN_HEADER.toLowerCase()]: 'mailmend-probe-young' } });
        expect(young).toHaveLength(1);
        if (young) await imap.messageDelete(young);
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
  });

  it('calls an expired certificate an outage, names the date, and heals back to the good certificate', async () => {
    const { notAfter } = await installExpiredCertificate(lab.paths);
    const expiredOn = new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString();
    const report = await assess();
    for (const check of [report.smtpTls, report.imapTls]) {
      expect(check).toMatchObject({
        ok: false,
        errorCode: 'CERT_EXPIRED',
        detail: `certificate expired on ${expiredOn} (CN=mx.lab.test, issued by CN=mailmend lab CA)`,
      });
    }
    // Ports, banners and queueing still work: only the end-to-end checks see this outage.
    expect([report.tcpSmtp.ok, report.smtp.ok, report.imap.ok, report.smtpDelivery?.ok]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(verdict(report)).toEqual({ severity: 'major', scope: 'all-users', healthy: false });

    const healed = await labHeal(stateDir);
    expect(healed.actions).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`restore ${lab.paths.tlsServerCert}`),
        'reload Postfix',
        'reload Dovecot',
      ]),
    );
    expectEveryCheckPasses(await assess());
  });

  it('passes a certificate that expires in five days, with a warning for each service', async () => {
    const { notAfter } = await installNearExpiryCertificate(lab.paths, 5);
    const report = await assess();
    expectEveryCheckPasses(report);
    const validTo = new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString();
    const expected = { subject: 'CN=mx.lab.test', issuer: 'CN=mailmend lab CA', validTo, daysLeft: 5 };
    expect(report.certificateWarnings).toEqual([
      { service: 'smtp', ...expected },
      { service: 'imap', ...expected },
    ]);
    expect(verdict(report)).toEqual({ severity: 'none', scope: 'none', healthy: true });
    await labHeal(stateDir);
    expect((await assess()).certificateWarnings).toBeUndefined();
  });

  it('calls mail that is queued but never delivered an outage', async () => {
    const tools = requireLabTools();
    // Postfix accepts and queues, but holds everything for the canary's transport, as a stuck delivery agent would.
    await runOrThrow([tools.postconf, '-c', lab.paths.postfixConfigDir, '-e', 'defer_transports = virtual']);
    await runOrThrow([tools.postfix, '-c', lab.paths.postfixConfigDir, 'reload']);
    const report = await assess();
    expect(report.smtpDelivery).toMatchObject({ ok: true, detail: expect.stringMatching(/^queued as [0-9A-F]+ /) });
    expect(report.imapLogin).toMatchObject({
      ok: false,
      errorCode: 'TOKEN_NOT_DELIVERED',
      detail: expect.stringMatching(
        /^the server accepted the token message \(queued as [0-9A-F]+\) but it did not arrive in canary@lab\.test within 5000 ms$/,
      ),
    });
    expect(verdict(report)).toEqual({ severity: 'major', scope: 'all-users', healthy: false });
    // Heal restores main.cf and flushes the queue, so the held token is delivered: the next assessment removes it.
    await labHeal(stateDir);
    expectEveryCheckPasses(await assess());
  });
});
