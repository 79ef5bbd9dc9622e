import net from 'node:net';
import pino from 'pino';
import { createDiagnosisActivities } from '../../activities/diagnosis';
import type { CommandRun } from '../../activities/host-evidence-types';
import type { MailHostAccess } from '../../activities/mail-host';
import { loadSignatureCatalog } from '../../activities/signatures/catalog';
import type { SshSession } from '../../activities/ssh';
import { serverSchema } from '../../config/schema';
import type { CheckResult, Diagnosis, ProbeReport } from '../../workflows/messages';
import { freePort } from '../support/processes';

// Recorded host evidence for the diagnosis tests: a mail host answered by a script of command outputs, with the log
// lines real Postfix 3.7 and Dovecot 2.3 printed on this project's lab when broken the same way.

export const SHIPPED = loadSignatureCatalog();
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A syslog timestamp (`Nov 29 14:04:37`) `minutesAgo` before `now`, in UTC, as a host in UTC writes it. */
export function syslogTime(now: Date, minutesAgo: number): string {
  const at = new Date(now.getTime() - minutesAgo * 60_000);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${MONTHS[at.getUTCMonth()]} ${String(at.getUTCDate()).padStart(2, ' ')} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`;
}

/** `date +%Y-%m-%dT%H:%M:%S%z` of a host in UTC. */
export function hostDate(now: Date): string {
  return `${now.toISOString().slice(0, 19)}+0000\n`;
}

export type Script = Record<string, Partial<CommandRun> | undefined>;

/** A session that answers each argv from the script (a key ending in `*` matches a prefix), and `exit 0` otherwise. */
export function scriptedSession(script: Script): SshSession & { ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    async run(argv) {
      const key = argv.join(' ');
      ran.push(key);
      const prefix = Object.keys(script).find(
        (pattern) => pattern.endsWith('*') && key.startsWith(pattern.slice(0, -1)),
      );
      const answer = script[key] ?? (prefix ? script[prefix] : undefined) ?? {};
      const timedOut = answer.timedOutAfterMs !== undefined ? { timedOutAfterMs: answer.timedOutAfterMs } : {};
      return { argv: [...argv], exitCode: answer.exitCode ?? 0, output: answer.output ?? '', ...timedOut };
    },
  };
}

/** What the SSH session answers for a command it killed at its timeout. */
export function hungFor(timedOutAfterMs: number): Partial<CommandRun> {
  return { exitCode: -1, output: `timed out after ${timedOutAfterMs} ms`, timedOutAfterMs };
}

export const POSTFIX_DOWN: Script = {
  'postfix -c /etc/postfix status': {
    exitCode: 1,
    output: 'postfix/postfix-script: the Postfix mail system is not running\n',
  },
};
export const POSTFIX_UP: Script = {
  'cat /var/spool/postfix/pid/master.pid': { output: '       812\n' },
};
export const DOVECOT_UP: Script = {
  'doveconf -c /etc/dovecot/dovecot.conf -h base_dir': { output: '/run/dovecot\n' },
  'cat /run/dovecot/master.pid': { output: '803\n' },
};

/** What the host answers whatever the fixture: where the queue is, and the host's clock. */
function baseScript(now: Date): Script {
  return {
    'postconf -c /etc/postfix -h queue_directory': { output: '/var/spool/postfix\n' },
    'date +%Y-%m-%dT%H:%M:%S%z': { output: hostDate(now) },
    'date +%z': { output: '+0000\n' },
    'ps -o pid,stat,wchan,args -p 812': {
      output: '  PID STAT WCHAN  COMMAND\n  812 Ss   do_epo /usr/lib/postfix/sbin/master -w\n',
    },
    'ps -o pid,stat,wchan,args -p 803': { output: '  PID STAT WCHAN  COMMAND\n  803 Ss   do_epo /usr/sbin/dovecot\n' },
    'diff -u *': { exitCode: 0 },
  };
}

export const answered: CheckResult = { ok: true, latencyMs: 2, detail: '220 mx ESMTP' };
export const refused: CheckResult = { ok: false, latencyMs: 1, detail: 'ECONNREFUSED', errorCode: 'ECONNREFUSED' };
export const silent: CheckResult = {
  ok: false,
  latencyMs: 5000,
  detail: 'no answer within 5000 ms waiting for the banner',
  errorCode: 'ETIMEDOUT',
};

export interface Fixture {
  name: string;
  /** Commands the host answers differently from a healthy one. */
  script: Script;
  /** Lines of /var/log/mail.log, oldest first. */
  log?: string[];
  probes?: Partial<ProbeReport>;
  imapUp?: boolean;
  host?: Record<string, unknown>;
}

/** Runs the real diagnoseOutage against a scripted host, with a real IMAP port that answers or refuses. */
export async function diagnoseFixture(
  fixture: Fixture,
  now = new Date(),
): Promise<{ diagnosis: Diagnosis; ran: string[] }> {
  const imap = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end('* OK IMAP ready\r\n');
  });
  const imapUp = fixture.imapUp ?? true;
  const imapPort = imapUp
    ? await new Promise<number>((resolve) =>
        imap.listen(0, '127.0.0.1', () => resolve((imap.address() as net.AddressInfo).port)),
      )
    : await freePort();
  try {
    const server = serverSchema.parse({
      id: 'mx1',
      smtp: { host: '127.0.0.1', port: 25 },
      imap: { host: '127.0.0.1', port: imapPort },
      ssh: {
        host: '127.0.0.1',
        port: 22,
        user: 'root',
        hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey',
        privateKey: { file: 'k' },
      },
      host: { knownGoodDir: '/srv/known-good', logFiles: ['/var/log/mail.log'], ...fixture.host },
    });
    const session = scriptedSession({
      ...baseScript(now),
      'tail -n 20000 /var/log/mail.log': { output: (fixture.log ?? []).map((line) => `${line}\n`).join('') },
      ...fixture.script,
    });
    const mailHost = { withSsh: (_server, use) => use(session) } as MailHostAccess;
    const { diagnoseOutage } = createDiagnosisActivities({
      servers: new Map([[server.id, server]]),
      mailHost,
      logger: pino({ level: 'silent' }),
      probeTimeoutMs: 1_000,
      signatures: SHIPPED,
    });
    const probes: ProbeReport = {
      serverId: 'mx1',
      checkedAt: now.toISOString(),
      tcpSmtp: answered,
      smtp: answered,
      imap: imapUp ? { ok: true, latencyMs: 2, detail: '* OK IMAP ready' } : refused,
      ...fixture.probes,
    };
    const context = { incidentId: 'incident-mx1', serverId: 'mx1', step: 'troubleshooting' as const };
    const diagnosis = await diagnoseOutage({ context, probes });
    return { diagnosis, ran: session.ran };
  } finally {
    await new Promise<void>((resolve) => (imap.listening ? imap.close(() => resolve()) : resolve()));
  }
}
