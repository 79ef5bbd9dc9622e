import type { ServerConfig } from '../config/schema';
import type { ProbeReport } from '../workflows/messages';
import { DISK_FULL_PERCENT } from './diagnosis-host-rules';
import { HOST_COMMAND_TIMEOUTS } from './host-command-timeouts';
import type { FollowUpRequest } from './follow-up-evidence';
import { parseConfigValue } from './host-evidence-parsers';
import type { HostEvidence } from './host-evidence-types';
import type { GatherRequestTemplate } from './signatures/catalog';
import type { SignatureMatch } from './signatures/classify';
import { fillText, safePath, safePid, safePort, type Placeholders } from './signatures/placeholders';
import type { SshSession } from './ssh';

// Which follow-ups the first look at the host calls for, strongest reason first, since only the first few run.

/** Values every signature may use: where things live on this host, from the config and from Postfix itself. */
export function hostPlaceholders(server: ServerConfig, host: HostEvidence): Placeholders {
  return {
    queueDirectory: host.queueDirectory,
    postfixConfigDir: server.host.postfixConfigDir,
    dovecotConfig: server.host.dovecotConfig,
    mailDir: server.host.mailDirs[0],
  };
}

/** A gather template with its parameter filled and checked, or undefined when the captured value is not safe. */
export function resolveGather(template: GatherRequestTemplate, values: Placeholders): FollowUpRequest | undefined {
  const filled = fillText(template.parameter, values);
  if (template.kind === 'listeners') {
    const port = safePort(filled);
    return port === undefined ? undefined : { kind: 'listeners', port };
  }
  if (template.kind === 'process-state') {
    const pid = safePid(filled);
    return pid === undefined ? undefined : { kind: 'process-state', pid };
  }
  const path = safePath(filled);
  return path === undefined ? undefined : { kind: template.kind, path };
}

/** The values a match can fill its templates with before any follow-up ran. */
export function matchPlaceholders(match: SignatureMatch, host: Placeholders): Placeholders {
  return { ...host, ...match.groups };
}

function signatureRequests(matches: readonly SignatureMatch[], host: Placeholders): FollowUpRequest[] {
  return [...matches]
    .reverse()
    .sort((a, b) => b.signature.confidence - a.signature.confidence)
    .flatMap((match) =>
      match.signature.gather.map((template) => resolveGather(template, matchPlaceholders(match, host))),
    )
    .filter((request): request is FollowUpRequest => request !== undefined);
}

/**
 * The follow-ups to run, in order: the state of each live master process (a frozen daemon still accepts
 * connections), then what the matched signatures ask for, then the largest recent files on a full filesystem, then
 * the dates of certificates a TLS probe found expired.
 */
export function planFollowUps(
  matches: readonly SignatureMatch[],
  server: ServerConfig,
  host: HostEvidence,
  certificateFiles: readonly string[],
): FollowUpRequest[] {
  const masters = [host.postfix.masterPid, host.dovecot.masterPid]
    .filter((pid): pid is number => pid !== undefined)
    .map((pid): FollowUpRequest => ({ kind: 'process-state', pid }));
  const fullDisks = host.disk
    .filter((disk) => disk.usedPercent >= DISK_FULL_PERCENT || disk.inodesUsedPercent >= DISK_FULL_PERCENT)
    .map((disk) => safePath(disk.path))
    .filter((path): path is string => path !== undefined)
    .map((path): FollowUpRequest => ({ kind: 'largest-recent-files', path }));
  const certificates = certificateFiles.map((path): FollowUpRequest => ({ kind: 'certificate-dates', path }));
  return [...masters, ...signatureRequests(matches, hostPlaceholders(server, host)), ...fullDisks, ...certificates];
}

function expired(check: ProbeReport['smtpTls']): boolean {
  return check !== undefined && !check.ok && /expired/i.test(`${check.errorCode ?? ''} ${check.detail}`);
}

/**
 * The certificate files behind TLS probes that met an expired certificate: `postconf -h smtpd_tls_cert_file` and
 * `doveconf -h ssl_cert` (whose value reads `</path`). Read only when a probe failed that way.
 */
export async function readCertificateFiles(
  session: SshSession,
  server: ServerConfig,
  probes: ProbeReport,
): Promise<{ smtp?: string; imap?: string }> {
  const files: { smtp?: string; imap?: string } = {};
  if (expired(probes.smtpTls)) {
    const argv = ['postconf', '-c', server.host.postfixConfigDir, '-h', 'smtpd_tls_cert_file'];
    const run = await session.run(argv, { timeoutMs: HOST_COMMAND_TIMEOUTS.configRead });
    const file = run.exitCode === 0 ? safePath(parseConfigValue(run.output, 'postconf')) : undefined;
    if (file) files.smtp = file;
  }
  if (expired(probes.imapTls)) {
    const run = await session.run(['doveconf', '-c', server.host.dovecotConfig, '-h', 'ssl_cert'], {
      timeoutMs: HOST_COMMAND_TIMEOUTS.configRead,
    });
    const value = run.exitCode === 0 ? parseConfigValue(run.output, 'doveconf').replace(/^</, '') : '';
    const file = safePath(value);
    if (file) files.imap = file;
  }
  return files;
}
