import type { LabContext } from './context';
import { dovecotMasterPid, startDovecot } from './dovecot';
import { LabServiceError } from './errors';
import type { LabLayout, LabPorts, LabSettings } from './layout';
import { postfixMasterPid, startPostfix } from './postfix';
import { isListening, tailFile, waitUntil } from './processes';
import { relayPid, startRelay } from './relay';
import { sshdPid, startSshd } from './sshd';

/** The lab's processes, in the order they start. */
export const LAB_SERVICES = ['postfix', 'dovecot', 'sshd', 'relay'] as const;
export type LabService = (typeof LAB_SERVICES)[number];

interface ServiceControl {
  port(settings: LabSettings): number;
  logFile(layout: LabLayout): string;
  /** The service's main pid, when that process is alive. */
  pid(layout: LabLayout): Promise<number | undefined>;
  start(context: LabContext): Promise<unknown>;
}

/** How the lab runs one service: the port of the lab's it listens on, the log it writes, its pid and how it starts. */
function serviceControl(
  port: keyof LabPorts,
  logFile: 'postfixLog' | 'dovecotLog' | 'sshdLog' | 'relayLog',
  pid: ServiceControl['pid'],
  start: ServiceControl['start'],
): ServiceControl {
  return { port: (settings) => settings.ports[port], logFile: (layout) => layout[logFile], pid, start };
}

const CONTROLS: Record<LabService, ServiceControl> = {
  postfix: serviceControl('smtp', 'postfixLog', postfixMasterPid, ({ tools, layout }) => startPostfix(tools, layout)),
  dovecot: serviceControl('imap', 'dovecotLog', dovecotMasterPid, ({ tools, layout }) => startDovecot(tools, layout)),
  sshd: serviceControl('ssh', 'sshdLog', sshdPid, ({ tools, layout }) => startSshd(tools, layout)),
  relay: serviceControl('relay', 'relayLog', relayPid, ({ layout, settings }) => startRelay(layout, settings)),
};

export interface ServiceState {
  service: LabService;
  port: number;
  pid?: number;
  listening: boolean;
  /** The process is alive and its port accepts connections. */
  up: boolean;
}

export function servicePort(settings: LabSettings, service: LabService): number {
  return CONTROLS[service].port(settings);
}

/** The service's main pid, when that process is alive; its command line is checked so a reused pid does not count. */
export function servicePid(layout: LabLayout, service: LabService): Promise<number | undefined> {
  return CONTROLS[service].pid(layout);
}

export async function serviceState(layout: LabLayout, settings: LabSettings, service: LabService) {
  const control = CONTROLS[service];
  const port = control.port(settings);
  const [pid, listening] = await Promise.all([control.pid(layout), isListening(port)]);
  return { service, port, pid, listening, up: pid !== undefined && listening } satisfies ServiceState;
}

export function serviceStates(layout: LabLayout, settings: LabSettings): Promise<ServiceState[]> {
  return Promise.all(LAB_SERVICES.map((service) => serviceState(layout, settings, service)));
}

/** Starts one service and returns its pid once its port accepts connections. */
export async function startService(context: LabContext, service: LabService, timeoutMs = 20_000): Promise<number> {
  const { layout, settings } = context;
  const control = CONTROLS[service];
  await control.start(context);
  let pid: number | undefined;
  try {
    await waitUntil(
      `${service} to listen on 127.0.0.1:${control.port(settings)}`,
      async () => {
        pid = await control.pid(layout);
        return pid !== undefined && (await isListening(control.port(settings)));
      },
      { timeoutMs },
    );
  } catch (error) {
    const logFile = control.logFile(layout);
    throw new LabServiceError(service, 'started but never listened', logFile, await tailFile(logFile), {
      cause: error,
    });
  }
  return pid as number;
}

/** Waits until the service's process is gone and its port refuses connections. */
export async function waitServiceDown(layout: LabLayout, settings: LabSettings, service: LabService): Promise<void> {
  const port = CONTROLS[service].port(settings);
  await waitUntil(`${service} to stop and 127.0.0.1:${port} to refuse connections`, async () => {
    const state = await serviceState(layout, settings, service);
    return state.pid === undefined && !state.listening;
  });
}
