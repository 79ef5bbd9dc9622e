import type { LabContext } from './context';
import { dovecotMasterPid, startDovecot } from './dovecot';
import { LabServiceError } from './errors';
import type { LabLayout, LabPorts, LabSettings } from './layout';
import { postfixMasterPid, startPostfix } from './postfix';
import { isListening, isProcessStopped, tailFile, waitUntil } from './processes';
import { relayPid, startRelay } from './relay';
import { sshdPid, startSshd } from './sshd';

/** The lab's processes, in the order they start. */
export const LAB_SERVICES = ['postfix', 'dovecot', 'sshd', 'relay'] as const;
export type LabService = (typeof LAB_SERVICES)[number];

/** How the lab runs one service: the lab port it listens on, the log it writes, its pid and how it starts. */
interface ServiceControl {
  port: keyof LabPorts;
  logFile: 'postfixLog' | 'dovecotLog' | 'sshdLog' | 'relayLog';
  /** The service's main pid, when that process is alive. */
  pid(layout: LabLayout): Promise<number | undefined>;
  start(context: LabContext): Promise<unknown>;
}

const CONTROLS: Record<LabService, ServiceControl> = {
  postfix: {
    port: 'smtp',
    logFile: 'postfixLog',
    pid: postfixMasterPid,
    start: ({ tools, layout }) => startPostfix(tools, layout),
  },
  dovecot: {
    port: 'imap',
    logFile: 'dovecotLog',
    pid: dovecotMasterPid,
    start: ({ tools, layout }) => startDovecot(tools, layout),
  },
  sshd: { port: 'ssh', logFile: 'sshdLog', pid: sshdPid, start: ({ tools, layout }) => startSshd(tools, layout) },
  relay: {
    port: 'relay',
    logFile: 'relayLog',
    pid: relayPid,
    start: ({ layout, settings }) => startRelay(layout, settings),
  },
};

export interface ServiceState {
  service: LabService;
  port: number;
  pid?: number;
  listening: boolean;
  /** The process is stopped (SIGSTOP): its port may still accept connections, but nothing answers on them. */
  stopped: boolean;
  /** The process is alive and not stopped, and its port accepts connections. */
  up: boolean;
}

export function servicePort(settings: LabSettings, service: LabService): number {
  return settings.ports[CONTROLS[service].port];
}

/** The service's main pid, when that process is alive; its command line is checked so a reused pid does not count. */
export function servicePid(layout: LabLayout, service: LabService): Promise<number | undefined> {
  return CONTROLS[service].pid(layout);
}

export async function serviceState(layout: LabLayout, settings: LabSettings, service: LabService) {
  const control = CONTROLS[service];
  const port = settings.ports[control.port];
  const [pid, listening] = await Promise.all([control.pid(layout), isListening(port)]);
  const stopped = pid !== undefined && isProcessStopped(pid);
  return {
    service,
    port,
    pid,
    listening,
    stopped,
    up: pid !== undefined && !stopped && listening,
  } satisfies ServiceState;
}

export function serviceStates(layout: LabLayout, settings: LabSettings): Promise<ServiceState[]> {
  return Promise.all(LAB_SERVICES.map((service) => serviceState(layout, settings, service)));
}

/** Starts one service and returns its pid once its port accepts connections. */
export async function startService(context: LabContext, service: LabService, timeoutMs = 20_000): Promise<number> {
  const { layout, settings } = context;
  const control = CONTROLS[service];
  const port = settings.ports[control.port];
  await control.start(context);
  let pid: number | undefined;
  try {
    await waitUntil(
      `${service} to listen on 127.0.0.1:${port}`,
      async () => {
        pid = await control.pid(layout);
        return pid !== undefined && (await isListening(port));
      },
      { timeoutMs },
    );
  } catch (error) {
    const logFile = layout[control.logFile];
    throw new LabServiceError(service, 'started but never listened', logFile, await tailFile(logFile), {
      cause: error,
    });
  }
  return pid as number;
}

/** Waits until the service's process is gone and its port refuses connections. */
export async function waitServiceDown(layout: LabLayout, settings: LabSettings, service: LabService): Promise<void> {
  const port = settings.ports[CONTROLS[service].port];
  await waitUntil(`${service} to stop and 127.0.0.1:${port} to refuse connections`, async () => {
    const state = await serviceState(layout, settings, service);
    return state.pid === undefined && !state.listening;
  });
}
