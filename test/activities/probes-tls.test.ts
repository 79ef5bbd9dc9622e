import pino from 'pino';
import { createProbeActivities } from '../../activities/probes';
import { probeImapTls, probeSmtpTls, type TlsProbeTarget } from '../../activities/probe-tls';
import type { TlsTrust } from '../../activities/tls-certificate';
import { SecretResolver } from '../../config/secrets';
import { serverSchema } from '../../config/schema';
import { createMailHostAccess } from '../../worker/mail-host-access';
import {
  createTestPki,
  startImapTlsServer,
  startSmtpServer,
  validFor,
  type TestListener,
  type TestPki,
} from './probes-support';

const PROBE_TIMEOUT_MS = 2_000;

let pki: TestPki;
let otherPki: TestPki;
const listeners: TestListener[] = [];

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([createTestPki(), createTestPki()]);
});
afterAll(() => Promise.all([pki.close(), otherPki.close()]));
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

function trusting(which: TestPki): TlsTrust {
  return { ca: which.caPem, source: which.caFile };
}

function target(listener: TestListener, trust: TlsTrust): TlsProbeTarget {
  return { host: listener.host, port: listener.port, trust, timeoutMs: PROBE_TIMEOUT_MS, now: () => new Date() };
}

async function smtpWithCertificate(credentials: { key: string; cert: string }, host?: string) {
  const smtp = await startSmtpServer({ ...credentials, ...(host ? { host } : {}) });
  listeners.push(smtp);
  return smtp;
}

describe('probeSmtpTls', () => {
  it('passes a valid certificate from the trusted CA after STARTTLS and describes it', async () => {
    const smtp = await smtpWithCertificate(await pki.issue(validFor(1, 200)));
    const outcome = await probeSmtpTls(target(smtp, trusting(pki)), false);
    expect(outcome.check).toEqual({
      ok: true,
      latencyMs: expect.any(Number),
      detail: expect.stringMatching(
        /^STARTTLS: TLSv1\.[23], CN=mx\.lab\.test issued by CN=mailmend lab CA, valid until \S+ \((199|200) days left\)$/,
      ),
    });
    expect(outcome.certificate).toMatchObject({
      service: 'smtp',
      subject: 'CN=mx.lab.test',
      issuer: 'CN=mailmend lab CA',
    });
  });

  it('fails an expired certificate and names the day it expired', async () => {
    const expired = await pki.issue(validFor(90, -1));
    const smtp = await smtpWithCertificate(expired);
    const outcome = await probeSmtpTls(target(smtp, trusting(pki)), false);
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'CERT_EXPIRED',
      detail: `certificate expired on ${expired.notAfter.toISOString()} (CN=mx.lab.test, issued by CN=mailmend lab CA)`,
    });
    expect(outcome.certificate).toBeUndefined();
  });

  it('fails a certificate that does not name the host it was reached at', async () => {
    // 127.0.0.2 is loopback too, but the certificate names only 127.0.0.1, localhost and mx.lab.test.
    const smtp = await smtpWithCertificate(await pki.issue(validFor(1, 200)), '127.0.0.2');
    const outcome = await probeSmtpTls(target(smtp, trusting(pki)), false);
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'CERT_NAME_MISMATCH',
      detail:
        "certificate does not name 127.0.0.2: Hostname/IP does not match certificate's altnames: " +
        "IP: 127.0.0.2 is not in the cert's list: 127.0.0.1 (CN=mx.lab.test, issued by CN=mailmend lab CA)",
    });
  });

  it('fails a certificate from a CA the config does not trust', async () => {
    const smtp = await smtpWithCertificate(await otherPki.issue(validFor(1, 200)));
    const outcome = await probeSmtpTls(target(smtp, trusting(pki)), false);
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'CERT_UNTRUSTED',
      detail: expect.stringContaining(`which does not chain to ${pki.caFile}`),
    });
  });

  it('fails a server that does not offer STARTTLS when the config requires it', async () => {
    const smtp = await startSmtpServer({});
    listeners.push(smtp);
    const outcome = await probeSmtpTls(target(smtp, trusting(pki)), true);
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'STARTTLS_NOT_OFFERED',
      detail: 'the server does not offer STARTTLS, which the config requires',
    });
  });

  it('has no TLS check for a server that neither offers STARTTLS nor is required to', async () => {
    const smtp = await startSmtpServer({});
    listeners.push(smtp);
    expect(await probeSmtpTls(target(smtp, trusting(pki)), false)).toEqual({});
  });
});

describe('probeImapTls', () => {
  const imapConfig = (tls: boolean, starttls: boolean) => ({ host: '127.0.0.1', port: 0, tls, starttls });

  it('checks the certificate after IMAP STARTTLS', async () => {
    const imap = await startImapTlsServer(await pki.issue(validFor(1, 200)), false);
    listeners.push(imap);
    const outcome = await probeImapTls(target(imap, trusting(pki)), imapConfig(false, true));
    expect(outcome.check).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^STARTTLS: TLSv1\.[23], CN=mx\.lab\.test/),
    });
    expect(outcome.certificate).toMatchObject({ service: 'imap' });
  });

  it('fails an expired certificate on implicit TLS', async () => {
    const expired = await pki.issue(validFor(90, -2));
    const imap = await startImapTlsServer(expired, true);
    listeners.push(imap);
    const outcome = await probeImapTls(target(imap, trusting(pki)), imapConfig(true, false));
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'CERT_EXPIRED',
      detail: expect.stringContaining(`certificate expired on ${expired.notAfter.toISOString()}`),
    });
  });

  it('has no check when IMAP is configured for neither TLS nor STARTTLS', async () => {
    expect(
      await probeImapTls(
        target({ host: '127.0.0.1', port: 1, close: async () => undefined }, trusting(pki)),
        imapConfig(false, false),
      ),
    ).toEqual({});
  });
});

describe('probeServer with TLS', () => {
  function probeActivities(smtpPort: number, imapPort: number, imap: { tls: boolean; starttls: boolean }) {
    const server = serverSchema.parse({
      id: 'mx-tls',
      smtp: { host: '127.0.0.1', port: smtpPort },
      imap: { host: '127.0.0.1', port: imapPort, ...imap },
      tls: { caFile: pki.caFile, expiryWarning: '14d' },
    });
    return createProbeActivities({
      servers: new Map([[server.id, server]]),
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      mailHost: createMailHostAccess(new SecretResolver({}, '/')),
      logger: pino({ level: 'silent' }),
    });
  }
  const context = { incidentId: 'incident-mx-tls', serverId: 'mx-tls', step: 'assessment' as const };

  it('passes certificates that expire within the warning window and lists them as warnings', async () => {
    const soon = await pki.issue(validFor(30, 5.5));
    const smtp = await smtpWithCertificate(soon);
    const imap = await startImapTlsServer(soon, false);
    listeners.push(imap);
    const report = await probeActivities(smtp.port, imap.port, { tls: false, starttls: true }).probeServer({ context });
    expect(report.smtpTls).toMatchObject({ ok: true });
    expect(report.imapTls).toMatchObject({ ok: true });
    const expected = {
      subject: 'CN=mx.lab.test',
      issuer: 'CN=mailmend lab CA',
      validTo: soon.notAfter.toISOString(),
      daysLeft: 5,
    };
    expect(report.certificateWarnings).toEqual([
      { service: 'smtp', ...expected },
      { service: 'imap', ...expected },
    ]);
    expect(report.elapsedMs).toEqual(expect.any(Number));
  });

  it('gives no warning for certificates far from expiry', async () => {
    const good = await pki.issue(validFor(1, 300));
    const smtp = await smtpWithCertificate(good);
    const imap = await startImapTlsServer(good, true);
    listeners.push(imap);
    const report = await probeActivities(smtp.port, imap.port, { tls: true, starttls: false }).probeServer({ context });
    expect(report.smtpTls).toMatchObject({ ok: true });
    expect(report.imapTls).toMatchObject({ ok: true, detail: expect.stringMatching(/^implicit TLS: /) });
    expect(report.imap).toMatchObject({ ok: true });
    expect(report.certificateWarnings).toBeUndefined();
  });

  it('keeps the IMAP greeting check apart from the certificate: an expired imaps certificate fails imapTls only', async () => {
    const expired = await pki.issue(validFor(90, -1));
    const smtp = await smtpWithCertificate(await pki.issue(validFor(1, 300)));
    const imap = await startImapTlsServer(expired, true);
    listeners.push(imap);
    const report = await probeActivities(smtp.port, imap.port, { tls: true, starttls: false }).probeServer({ context });
    expect(report.imap).toMatchObject({ ok: true, detail: '* OK [CAPABILITY IMAP4rev1 STARTTLS] test ready' });
    expect(report.imapTls).toMatchObject({ ok: false, errorCode: 'CERT_EXPIRED' });
    expect(report.smtpTls).toMatchObject({ ok: true });
  });
});
