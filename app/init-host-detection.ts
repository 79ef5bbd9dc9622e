import path from 'node:path';
import type { SshSession } from '../activities/ssh';

/** What `init --ssh` found on the mail host; undefined where it found nothing. */
export interface DetectedMailHost {
  postfixConfigDir?: string;
  postfixQueueDir?: string;
  postfixTls: { certFile?: string; keyFile?: string };
  dovecotConfig?: string;
  /** Every Dovecot config a running master or the default path offered, the chosen one among them. */
  dovecotCandidates: string[];
  dovecotTls: { certFile?: string; keyFile?: string };
  logFiles: string[];
  mailDirs: string[];
}

const DEFAULT_DOVECOT_CONFIG = '/etc/dovecot/dovecot.conf';
const WELL_KNOWN_MAIL_LOGS = ['/var/log/mail.log', '/var/log/maillog'];

/**
 * The values of `postconf -h a b` or `doveconf -h a b`, one per name, in order; the tools' own warnings, which share
 * the output, are not values.
 */
export function settingValues(output: string, tool: 'postconf' | 'doveconf'): string[] {
  return output
    .split('\n')
    .filter((line) => !line.startsWith(`${tool}: `))
    .map((line) => line.trim());
}

/** Dovecot names a file's contents with a leading `<`: `ssl_cert = </etc/ssl/mail.pem`. */
function dovecotFilePath(value: string | undefined): string | undefined {
  const file = value?.replace(/^</, '').trim();
  return file && file.startsWith('/') ? file : undefined;
}

/**
 * The config file of each running Dovecot master, from `pgrep -a -x dovecot` lines (`1234 /usr/sbin/dovecot -c
 * /etc/dovecot/dovecot.conf`); a master started without `-c` reads the default file.
 */
export function dovecotConfigsOfMasters(pgrepOutput: string): string[] {
  const configs = pgrepOutput
    .split('\n')
    .map((line) => line.trim().split(/\s+/).slice(1))
    .filter((argv) => argv.length > 0 && path.posix.basename(argv[0] ?? '') === 'dovecot')
    .map((argv) => {
      const flag = argv.indexOf('-c');
      return flag >= 0 && argv[flag + 1] ? argv[flag + 1] : DEFAULT_DOVECOT_CONFIG;
    })
    .filter((config): config is string => config !== undefined);
  return [...new Set(configs)];
}

function sharedPrefixLength(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  let shared = 0;
  while (shared < left.length && left[shared] === right[shared]) shared++;
  return shared;
}

/**
 * On a host running several Dovecot instances, the one whose config sits nearest the Postfix config directory
 * (`/etc/dovecot` beside `/etc/postfix`), as the two of one mail service are usually installed side by side.
 */
export function nearestDovecotConfig(candidates: readonly string[], postfixConfigDir?: string): string | undefined {
  if (postfixConfigDir === undefined) return candidates[0];
  let best: string | undefined;
  let bestShared = -1;
  for (const candidate of candidates) {
    const shared = sharedPrefixLength(path.posix.dirname(candidate), postfixConfigDir);
    if (shared > bestShared) [best, bestShared] = [candidate, shared];
  }
  return best;
}

/** The paths `stat -L -c '%F|%n'` reports as regular files, in the order asked. */
export function regularFiles(statOutput: string): string[] {
  return statOutput
    .split('\n')
    .map((line) => /^regular (?:empty )?file\|(.+)$/.exec(line.trim())?.[1])
    .filter((file): file is string => file !== undefined);
}

export function directories(statOutput: string): string[] {
  return statOutput
    .split('\n')
    .map((line) => /^directory\|(.+)$/.exec(line.trim())?.[1])
    .filter((file): file is string => file !== undefined);
}

async function postconf(session: SshSession, configDir: string | undefined, names: string[]): Promise<string[]> {
  const argv = ['postconf', ...(configDir ? ['-c', configDir] : []), '-h', ...names];
  const run = await session.run(argv);
  return run.exitCode === 0 ? settingValues(run.output, 'postconf') : [];
}

async function doveconf(session: SshSession, config: string, names: string[]): Promise<string[]> {
  const run = await session.run(['doveconf', '-c', config, '-h', ...names]);
  return run.exitCode === 0 ? settingValues(run.output, 'doveconf') : [];
}

async function statPaths(session: SshSession, paths: readonly string[]): Promise<string> {
  if (paths.length === 0) return '';
  // stat exits 1 when any path is missing, and still reports the others.
  return (await session.run(['stat', '-L', '-c', '%F|%n', '--', ...paths])).output;
}

async function detectPostfix(session: SshSession) {
  const [configDir] = (await postconf(session, undefined, ['config_directory'])).filter(Boolean);
  const [queueDir] = await postconf(session, configDir, ['queue_directory']);
  const [certFile, keyFile] = await postconf(session, configDir, ['smtpd_tls_cert_file', 'smtpd_tls_key_file']);
  // maillog_file is Postfix 3.4 and later; older ones log to syslog only, and postconf fails on the unknown name.
  const [maillogFile] = await postconf(session, configDir, ['maillog_file']);
  const [virtualBase, spoolDir] = await postconf(session, configDir, ['virtual_mailbox_base', 'mail_spool_directory']);
  return { configDir, queueDir, certFile, keyFile, maillogFile, mailDirCandidates: [virtualBase, spoolDir] };
}

async function detectDovecot(session: SshSession, postfixConfigDir: string | undefined) {
  const masters = dovecotConfigsOfMasters((await session.run(['pgrep', '-a', '-x', 'dovecot'])).output);
  const defaultExists = regularFiles(await statPaths(session, [DEFAULT_DOVECOT_CONFIG])).length > 0;
  const candidates = masters.length > 0 ? masters : defaultExists ? [DEFAULT_DOVECOT_CONFIG] : [];
  const config = nearestDovecotConfig(candidates, postfixConfigDir);
  if (config === undefined) return { candidates, config, tls: {}, logPaths: [] };
  // Dovecot 2.4 renamed the TLS settings.
  let [cert, key] = await doveconf(session, config, ['ssl_cert', 'ssl_key']);
  if (cert === undefined)
    [cert, key] = await doveconf(session, config, ['ssl_server_cert_file', 'ssl_server_key_file']);
  const logPaths = await doveconf(session, config, ['log_path', 'info_log_path']);
  const tls = { certFile: dovecotFilePath(cert), keyFile: dovecotFilePath(key) };
  return { candidates, config, tls, logPaths: logPaths.filter((file) => file.startsWith('/')) };
}

/**
 * Finds where the mail services live on the host with fixed, read-only commands (postconf, doveconf, pgrep, stat).
 * Nothing found leaves a field undefined, so the config keeps mailmend's default there.
 */
export async function detectMailHost(session: SshSession): Promise<DetectedMailHost> {
  const postfix = await detectPostfix(session);
  const dovecot = await detectDovecot(session, postfix.configDir);
  const logCandidates = [postfix.maillogFile, ...dovecot.logPaths, ...WELL_KNOWN_MAIL_LOGS].filter(
    (file): file is string => file !== undefined && file.startsWith('/'),
  );
  const mailDirCandidates = postfix.mailDirCandidates.filter(
    (dir): dir is string => dir !== undefined && dir.startsWith('/'),
  );
  const [firstMailDir] = directories(await statPaths(session, mailDirCandidates));
  return {
    postfixConfigDir: postfix.configDir,
    postfixQueueDir: postfix.queueDir || undefined,
    postfixTls: { certFile: postfix.certFile || undefined, keyFile: postfix.keyFile || undefined },
    dovecotConfig: dovecot.config,
    dovecotCandidates: dovecot.candidates,
    dovecotTls: dovecot.tls,
    logFiles: regularFiles(await statPaths(session, [...new Set(logCandidates)])),
    mailDirs: firstMailDir ? [firstMailDir] : [],
  };
}
