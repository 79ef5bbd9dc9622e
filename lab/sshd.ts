import { chmod, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { LabLayout, LabSettings } from './layout';
import type { LabTools } from './prerequisites';
import { runDaemonStartStep } from './daemon-start';
import { livePid, runOrThrow } from './processes';

const PRIVILEGE_SEPARATION_DIR = '/run/sshd';

/**
 * Root login with mailmend's key only: the catalog commands need root. StrictModes is off because the state dir may
 * sit under a world-writable /tmp, which sshd would otherwise refuse for the authorized_keys file.
 * `MAIL_CONFIG` makes a plain `postfix status` over this login mean the lab's Postfix, as on a single-instance host.
 */
function renderSshdConfig(layout: LabLayout, settings: LabSettings): string {
  return `# sshd for the mailmend lab: loopback only, mailmend's key for root, nothing else.
Port ${settings.ports.ssh}
ListenAddress 127.0.0.1
HostKey ${layout.sshHostKey}
PidFile ${layout.sshdPidFile}
AuthorizedKeysFile ${layout.sshAuthorizedKeys}
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv MAIL_CONFIG=${layout.postfixConfigDir}
`;
}

async function generateKey(tools: LabTools, file: string, comment: string): Promise<void> {
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await runOrThrow([tools['ssh-keygen'], '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  await chmod(file, 0o600);
}

/** `ssh-ed25519 AAAA…` without the comment, as the config's `ssh.hostKey` pins it. */
export async function readPublicKey(file: string): Promise<string> {
  const [type, key] = (await readFile(file, 'utf8')).trim().split(/\s+/);
  if (!type || !key) throw new Error(`${file} is not an OpenSSH public key`);
  return `${type} ${key}`;
}

/** A fresh host key, a fresh key for mailmend authorized for root, and the sshd_config, checked with `sshd -t`. */
export async function writeSshdConfig(tools: LabTools, layout: LabLayout, settings: LabSettings): Promise<void> {
  await generateKey(tools, layout.sshHostKey, 'mailmend-lab-host');
  await generateKey(tools, layout.sshClientKey, 'mailmend');
  await copyFile(`${layout.sshClientKey}.pub`, layout.sshAuthorizedKeys);
  await writeFile(
    layout.sshKnownHosts,
    `[127.0.0.1]:${settings.ports.ssh} ${await readPublicKey(`${layout.sshHostKey}.pub`)}\n`,
  );
  await writeFile(layout.sshdConfig, renderSshdConfig(layout, settings));
  await ensurePrivilegeSeparationDir();
  await runOrThrow([tools.sshd, '-t', '-f', layout.sshdConfig], 'checking the lab sshd_config');
}

/**
 * sshd, even `sshd -t`, refuses to run without its privilege-separation directory, which only systemd's unit or the
 * init script would create; a machine where sshd never ran has none. An existing one is the host's and stays as it is.
 */
export async function ensurePrivilegeSeparationDir(directory = PRIVILEGE_SEPARATION_DIR): Promise<void> {
  if (await exists(directory)) return;
  await mkdir(directory, { recursive: true });
  // mkdir's mode is filtered by the umask; sshd wants exactly 0755.
  await chmod(directory, 0o755);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function sshdPid(layout: LabLayout): Promise<number | undefined> {
  return livePid(layout.sshdPidFile, 'sshd');
}

function sshdStartCommand(tools: LabTools, layout: LabLayout): string[] {
  return [tools.sshd, '-f', layout.sshdConfig, '-E', layout.sshdLog];
}

export async function startSshd(tools: LabTools, layout: LabLayout): Promise<void> {
  await ensurePrivilegeSeparationDir();
  await runDaemonStartStep('sshd', sshdStartCommand(tools, layout), layout.sshdLog);
}
