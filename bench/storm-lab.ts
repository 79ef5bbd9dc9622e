import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { labBreak, labDown, labHeal, labUp, requireLabTools, type LabScenario } from '../lab';
import { freeLoopbackPorts } from '../platform/loopback';
import { closedPortServer } from './bench-config';

/** The outage the storm is about: one catalog action (start-postfix) fixes it, so the incident asks for approval. */
export const STORM_SCENARIO: LabScenario = 'postfix-stopped';

/** Where the storm's server lives: the real mail lab, or, without it, a closed port (and no approval to give). */
export type StormTarget =
  | {
      kind: 'lab';
      /** The lab's entry for mailmend's `servers:` list: SSH, host key, canary, host layout. */
      server: Record<string, unknown>;
      breakIt(): Promise<void>;
      /** Puts the lab back as it was, and says what that took. */
      heal(): Promise<string[]>;
      close(): Promise<void>;
    }
  | { kind: 'closed-port'; server: Record<string, unknown>; whyNoLab: string; close(): Promise<void> };

/**
 * Brings up the mail lab for the storm's server, as `mailmend lab up` does; when it cannot (not root, programs
 * missing, a service that will not start), the storm runs against a closed port instead, and says why.
 */
export async function prepareStormTarget(serverId: string, closedPort: number): Promise<StormTarget> {
  const closedPortTarget = (whyNoLab: string): StormTarget => ({
    kind: 'closed-port',
    server: closedPortServer(serverId, closedPort),
    whyNoLab,
    close: async () => undefined,
  });
  if (process.getuid?.() !== 0) return closedPortTarget('not root: the lab starts Postfix, Dovecot and sshd');
  try {
    requireLabTools();
  } catch (error) {
    return closedPortTarget((error as Error).message);
  }
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-bench-storm-'));
  const removeLab = async (): Promise<void> => {
    await labDown(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    const [smtpPort, imapPort, sshPort, relayPort] = (await freeLoopbackPorts(4)) as [number, number, number, number];
    const lab = await labUp({ stateDir, smtpPort, imapPort, sshPort, relayPort, serverId });
    return {
      kind: 'lab',
      server: { ...lab.server },
      breakIt: async () => {
        await labBreak(stateDir, STORM_SCENARIO);
      },
      heal: async () => (await labHeal(stateDir)).actions,
      close: removeLab,
    };
  } catch (error) {
    await removeLab().catch(() => undefined);
    return closedPortTarget(`the lab did not come up: ${(error as Error).message}`);
  }
}
