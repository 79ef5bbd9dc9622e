import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp, type LabInfo } from '../../lab/lab';
import { requireLabTools } from '../../lab/prerequisites';
import { freePorts } from './processes';

/**
 * Brings up a lab on free loopback ports in a fresh state directory. Fails, never skips: a machine without root or
 * without the packages must say what is missing.
 */
export async function startTestLab(prefix: string, serverId: string): Promise<{ stateDir: string; lab: LabInfo }> {
  requireLabTools();
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root: they start Postfix, Dovecot and sshd');
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `mailmend-${prefix}-`));
  const [smtpPort, imapPort, sshPort, relayPort] = (await freePorts(4)) as [number, number, number, number];
  const lab = await labUp({ stateDir, smtpPort, imapPort, sshPort, relayPort, serverId });
  return { stateDir, lab };
}

/** Stops everything the lab started and removes its state directory; nothing to do when it never came up. */
export async function stopTestLab(stateDir: string | undefined): Promise<void> {
  if (!stateDir) return;
  await labDown(stateDir);
  await rm(stateDir, { recursive: true, force: true });
}
