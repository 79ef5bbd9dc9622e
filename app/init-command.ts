import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { withSshSession, type SshOptions } from '../activities/ssh';
import { parseConfig } from '../config/load';
import { renderInitConfig, type InitServerFacts } from './init-config-text';
import { detectMailHost, type DetectedMailHost } from './init-host-detection';
import { parseSshLogin, sameFingerprint, scanHostKey, type PresentedHostKey, type SshLogin } from './init-host-key';
import { saveKnownGoodCopy } from './init-known-good';

const SSH_OPTIONS: SshOptions = { readyTimeoutMs: 10_000, keepaliveIntervalMs: 5_000, commandTimeoutMs: 20_000 };
const SUGGESTED_KNOWN_GOOD_DIR = '/var/lib/mailmend/known-good';
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

interface InitOptions {
  path: string;
  force?: boolean;
  ssh?: string;
  identity?: string;
  acceptHostKey?: string;
  saveKnownGood?: string;
}

/** What `init` touches outside the process; the CLI's own deps satisfy it. */
interface InitCliDeps {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Asks a yes/no question; without it init asks on the terminal, and without a terminal it never asks. */
  confirm?: (question: string) => Promise<boolean>;
}

async function askOnTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await terminal.question(question)).trim());
  } finally {
    terminal.close();
  }
}

function confirmer(deps: InitCliDeps): ((question: string) => Promise<boolean>) | undefined {
  return deps.confirm ?? (process.stdin.isTTY ? askOnTerminal : undefined);
}

/** `--identity`, or the first of the usual OpenSSH key files in ~/.ssh. */
function identityFile(option: string | undefined): string {
  if (option !== undefined) return path.resolve(option);
  const found = DEFAULT_IDENTITIES.map((name) => path.join(os.homedir(), '.ssh', name)).find((file) =>
    existsSync(file),
  );
  if (!found) throw new Error(`no private key in ~/.ssh (${DEFAULT_IDENTITIES.join(', ')}); name one with --identity`);
  return found;
}

/** Beside the config, a key is named relative to it, so the two can move together; elsewhere, absolutely. */
function identityReference(identity: string, configFile: string): string {
  const relative = path.relative(path.dirname(configFile), identity);
  return relative.startsWith('..') || path.isAbsolute(relative) ? identity : relative;
}

async function confirmHostKey(
  login: SshLogin,
  presented: PresentedHostKey,
  options: InitOptions,
  deps: InitCliDeps,
): Promise<void> {
  const endpoint = `${login.host}:${login.port}`;
  const checkOnHost = 'ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host';
  if (options.acceptHostKey !== undefined) {
    if (sameFingerprint(options.acceptHostKey, presented.fingerprint)) return;
    throw new Error(
      `the host key of ${endpoint} is ${presented.fingerprint}, not ${options.acceptHostKey} as --accept-host-key ` +
        'says; refused before logging in, and nothing was written',
    );
  }
  const confirm = confirmer(deps);
  if (!confirm) {
    throw new Error(
      `${endpoint} presents the host key ${presented.fingerprint} (${presented.pinned.split(' ')[0]}); compare it ` +
        `with ${checkOnHost}, then run init again with --accept-host-key ${presented.fingerprint}`,
    );
  }
  deps.stdout(`${endpoint} presents the host key ${presented.fingerprint} (${presented.pinned.split(' ')[0]}).\n`);
  deps.stdout(`Compare it with ${checkOnHost}.\n`);
  if (!(await confirm('Is this the key of your mail host? [y/N] '))) {
    throw new Error('the host key was not confirmed; nothing was written');
  }
}

/** `--save-known-good <dir>`, or the person's answer; undefined leaves the copy for later. */
async function knownGoodDirWanted(options: InitOptions, deps: InitCliDeps, host: string): Promise<string | undefined> {
  if (options.saveKnownGood !== undefined) return options.saveKnownGood;
  const confirm = confirmer(deps);
  const question =
    `Save the live main.cf, master.cf and dovecot.conf of ${host} as the known-good copy, in ` +
    `${SUGGESTED_KNOWN_GOOD_DIR} on the host? Only if the mail service works right now. [y/N] `;
  return confirm && (await confirm(question)) ? SUGGESTED_KNOWN_GOOD_DIR : undefined;
}

function describeDetected(detected: DetectedMailHost): string {
  const lines = [
    ['Postfix config', detected.postfixConfigDir],
    ['Postfix queue', detected.postfixQueueDir],
    ['Postfix TLS', detected.postfixTls.certFile && `${detected.postfixTls.certFile}, ${detected.postfixTls.keyFile}`],
    ['Dovecot config', detected.dovecotConfig],
    ['Dovecot TLS', detected.dovecotTls.certFile && `${detected.dovecotTls.certFile}, ${detected.dovecotTls.keyFile}`],
    ['mail logs', detected.logFiles.join(', ')],
    ['mailboxes', detected.mailDirs.join(', ')],
  ];
  return lines.map(([what, found]) => `  ${(what ?? '').padEnd(15)} ${found || 'not found (default kept)'}\n`).join('');
}

/** The one SSH login: detection, then the known-good copy if wanted. */
async function inspectHost(
  login: SshLogin,
  hostKey: string,
  privateKey: string,
  options: InitOptions,
  deps: InitCliDeps,
): Promise<{ detected: DetectedMailHost; knownGoodDir?: string }> {
  const target = { ...login, hostKey, privateKey };
  return withSshSession(target, SSH_OPTIONS, async (session) => {
    const detected = await detectMailHost(session);
    deps.stdout(`Found on ${login.host}:\n${describeDetected(detected)}`);
    const wanted = await knownGoodDirWanted(options, deps, login.host);
    if (wanted === undefined) return { detected };
    if (!detected.postfixConfigDir) {
      deps.stderr('No known-good copy saved: Postfix was not found on the host.\n');
      return { detected };
    }
    const outcome = await saveKnownGoodCopy(
      session,
      { ...detected, postfixConfigDir: detected.postfixConfigDir },
      wanted,
    );
    if (outcome.saved) deps.stdout(`Saved the known-good copy on the host: ${outcome.files.join(', ')}\n`);
    else deps.stderr(`No new known-good copy saved: ${outcome.reason}\n`);
    const usable = outcome.saved || outcome.reason.startsWith('a known-good copy is already there');
    return usable ? { detected, knownGoodDir: wanted } : { detected };
  });
}

async function serverFacts(options: InitOptions, configFile: string, deps: InitCliDeps): Promise<InitServerFacts> {
  const login = parseSshLogin(options.ssh ?? '');
  const identity = identityFile(options.identity);
  const privateKey = await readFile(identity, 'utf8');
  const presented = await scanHostKey(login, SSH_OPTIONS.readyTimeoutMs);
  await confirmHostKey(login, presented, options, deps);
  const { detected, knownGoodDir } = await inspectHost(login, presented.pinned, privateKey, options, deps);
  return {
    login,
    hostKey: presented.pinned,
    identityFile: identityReference(identity, configFile),
    detected,
    knownGoodDir,
  };
}

/** The written file must load: a placeholder that does not is a bug here, not the person's to find at start. */
function checkLoads(text: string, configFile: string): void {
  parseConfig(parseYaml(text), configFile, {}, path.dirname(configFile));
}

async function runInit(options: InitOptions, deps: InitCliDeps): Promise<void> {
  const configFile = path.resolve(options.path);
  if (existsSync(configFile) && !options.force) {
    throw new Error(`${configFile} already exists; nothing was changed (--force replaces it)`);
  }
  const facts = options.ssh === undefined ? undefined : await serverFacts(options, configFile, deps);
  const text = renderInitConfig(facts);
  checkLoads(text, configFile);
  await writeFile(configFile, text, { flag: options.force ? 'w' : 'wx' });
  deps.stdout(
    `Wrote ${configFile}. Fill in the lines marked FILL IN, then: ` +
      `${options.path === 'mailmend.yaml' ? '' : `MAILMEND_CONFIG=${options.path} `}npm start\n`,
  );
}

/**
 * `mailmend init`: writes a commented mailmend.yaml to start from; with `--ssh`, pins the mail host's key after the
 * person confirms it and fills in where Postfix and Dovecot live there.
 *
 * @example npx mailmend init --ssh root@mx1.example.com --identity ~/.ssh/mailmend_ed25519
 */
export function registerInitCommand(program: Command, deps: InitCliDeps): void {
  program
    .command('init')
    .description('write a commented mailmend.yaml to start from')
    .option('--path <file>', 'where to write the config', 'mailmend.yaml')
    .option('--force', 'replace the file if it exists')
    .option('--ssh <user@host[:port]>', 'log in to the mail host once: pin its key, find its Postfix and Dovecot')
    .option('--identity <file>', 'the private key mailmend logs in with (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa)')
    .option('--accept-host-key <SHA256:...>', 'the host key fingerprint to accept without asking')
    .option('--save-known-good <dir>', 'copy the live main.cf, master.cf and dovecot.conf into <dir> on the mail host')
    .action((options: InitOptions) => runInit(options, deps));
}
