import net from 'node:net';
import pino from 'pino';
import { createDiagnosisActivities } from '../../activities/diagnosis';
import type { MailHostAccess } from '../../activities/mail-host';
import { loadSignatureCatalog } from '../../activities/signatures/catalog';
import { serverSchema, type ServerConfig } from '../../config/schema';
import { NO_CATALOG_ACTION, type CheckResult, type ProbeReport } from '../../workflows/messages';
import { freePort } from '../support/processes';

const refused: CheckResult = { ok: false, latencyMs: 1, detail: 'ECONNREFUSED', errorCode: 'ECONNREFUSED' };
const answered: CheckResult = { ok: true, latencyMs: 2, detail: '* OK IMAP ready' };

/** A host whose SMTP port is closed while its IMAP port answers: the network says Postfix is down. */
async function postfixDownHost(ssh: Record<string, unknown> | undefined) {
  const imap = net.createServer((socket) => {
    // The diagnosis only checks that the port answers, then drops the connection.
    socket.on('error', () => undefined);
    socket.end('* OK IMAP ready\r\n');
  });
  await new Promise<void>((resolve) => imap.listen(0, '127.0.0.1', resolve));
  const imapPort = (imap.address() as net.AddressInfo).port;
  const server: ServerConfig = serverSchema.parse({
    id: 'mx1',
    smtp: { host: '127.0.0.1', port: await freePort() },
    imap: { host: '127.0.0.1', port: imapPort },
    ...(ssh ? { ssh } : {}),
  });
  return { server, close: () => new Promise<void>((resolve) => imap.close(() => resolve())) };
}

function probesOf(server: ServerConfig): ProbeReport {
  return {
    serverId: server.id,
    checkedAt: new Date().toISOString(),
    tcpSmtp: refused,
    smtp: refused,
    imap: answered,
  };
}

function diagnose(server: ServerConfig, withSsh: MailHostAccess['withSsh']) {
  const mailHost = { withSsh } as MailHostAccess;
  const { diagnoseOutage } = createDiagnosisActivities({
    servers: new Map([[server.id, server]]),
    mailHost,
    logger: pino({ level: 'silent' }),
    probeTimeoutMs: 1_000,
    signatures: loadSignatureCatalog(),
  });
  const context = { incidentId: 'incident-mx1', serverId: server.id, step: 'troubleshooting' as const };
  return diagnoseOutage({ context, probes: probesOf(server) });
}

const SSH = {
  host: '127.0.0.1',
  port: 2222,
  user: 'root',
  hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey',
  privateKey: { file: 'id_ed25519' },
};

describe('diagnosis when mailmend cannot reach the host', () => {
  test('SSH down: the network names the cause, nobody is asked to approve, and people get the commands to run', async () => {
    const host = await postfixDownHost(SSH);
    try {
      const diagnosis = await diagnose(host.server, () => Promise.reject(new Error('connect ECONNREFUSED')));

      expect(diagnosis.rootCause).toMatch(/Postfix is not running/);
      expect(diagnosis.recommendation.actionId).toBe(NO_CATALOG_ACTION);
      expect(diagnosis.recommendation.description).toMatch(/^Hand over to people: mailmend cannot run start-postfix/);
      expect(diagnosis.handover).toEqual({
        reason:
          'mailmend cannot run start-postfix: SSH to 127.0.0.1:2222 failed (connect ECONNREFUSED): diagnosis from the network only',
        suggestedCommands: ["'postfix' '-c' '/etc/postfix' 'check'", "'postfix' '-c' '/etc/postfix' 'start'"],
      });
      expect(diagnosis.evidence.at(-1)).toMatch(/^SSH to 127\.0\.0\.1:2222 failed/);
      expect(diagnosis.hypotheses?.[0]).toMatchObject({
        source: 'network-smtp-refused',
        actionId: NO_CATALOG_ACTION,
        handover: diagnosis.handover,
      });
    } finally {
      await host.close();
    }
  });

  test('no SSH configured: the same handover, saying so', async () => {
    const host = await postfixDownHost(undefined);
    try {
      let sshTried = false;
      const diagnosis = await diagnose(host.server, () => {
        sshTried = true;
        return Promise.reject(new Error('must not be called'));
      });

      expect(sshTried).toBe(false);
      expect(diagnosis.recommendation.actionId).toBe(NO_CATALOG_ACTION);
      expect(diagnosis.handover?.reason).toBe(
        'mailmend cannot run start-postfix: no SSH access configured: diagnosis from the network only',
      );
      expect(diagnosis.handover?.suggestedCommands).toHaveLength(2);
    } finally {
      await host.close();
    }
  });
});
