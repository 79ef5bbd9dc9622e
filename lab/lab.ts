import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { serverSchema, type ServerConfig } from '../config/schema';
import { loadLabContext, readLabSettings, writeLabSettings, type LabContext } from './context';
import { writeDovecotConfig } from './dovecot';
import { LabStateError } from './errors';
import { writeServerFragment } from './fragment';
import { DEFAULT_LAB_PORTS, labLayout, type LabLayout, type LabPorts, type LabSettings } from './layout';
import {
  addAlternateConfigDirs,
  postfixCommand,
  readPostfixQueue,
  removeAlternateConfigDirs,
  writePostfixConfig,
} from './postfix';
import { findLabPrerequisites, requireLabTools, type LabTools } from './prerequisites';
import { descendantPids, isListening, resumeStoppedGroup, runOrThrow, stopPids, waitUntil } from './processes';
import { relayPid, stopRelay } from './relay';
import { runScenario, type LabBreakResult, type LabScenario } from './scenarios';
import {
  LAB_SERVICES,
  servicePid,
  servicePort,
  serviceStates,
  startService,
  waitServiceDown,
  type LabService,
  type ServiceState,
} from './services';
import { readPublicKey, writeSshdConfig } from './sshd';
import { restoreOwnership, undoRuntimeFaults } from './heal-scenarios';
import { stopForeignListener } from './foreign-listener';
import { scenarioStateDir } from './scenarios/types';
import { unmountAllUnder } from './tmpfs';
import { ensureMailUser, lookupGroupId, prepareDirectories, restoreKnownGood, writeKnownGoodCopy } from './state-dir';

/** Unset ports and id are those of the last lab in `stateDir`, else 2525, 1143, 2222, 2526 and `lab`. */
export interface LabUpOptions {
  stateDir: string;
  smtpPort?: number;
  imapPort?: number;
  sshPort?: number;
  relayPort?: number;
  /** The server id in the config fragment. */
  serverId?: string;
}

export interface LabInfo {
  stateDir: string;
  serverId: string;
  /** The lab was already running; nothing was started or regenerated. */
  alreadyUp: boolean;
  startupMs: number;
  ports: LabPorts;
  pids: Record<LabService, number>;
  paths: LabLayout;
  /** `<state>/mailmend-server.yaml`, the lab as an entry for mailmend.yaml's `servers:` list. */
  fragmentFile: string;
  /** That entry, as mailmend's config schema reads it. */
  server: ServerConfig;
}

export interface LabStatus {
  stateDir: string;
  /** `labUp` has set up this state dir. */
  configured: boolean;
  serverId?: string;
  services: ServiceState[];
  allUp: boolean;
}

export interface LabHealResult {
  /** What heal changed or ran, in order. */
  actions: string[];
}

export interface LabDownResult {
  stopped: { service: LabService; pid: number }[];
  /** Other processes of the lab's daemons (Postfix and Dovecot children, ssh sessions) that were waited for. */
  childProcesses: number;
}

/** Options win; then what the previous lab in this state dir used, so `up` after `down` comes back the same. */
function settingsFrom(options: LabUpOptions, previous: LabSettings | undefined): LabSettings {
  const ports = previous?.ports ?? DEFAULT_LAB_PORTS;
  return {
    serverId: options.serverId ?? previous?.serverId ?? 'lab',
    ports: {
      smtp: options.smtpPort ?? ports.smtp,
      imap: options.imapPort ?? ports.imap,
      ssh: options.sshPort ?? ports.ssh,
      relay: options.relayPort ?? ports.relay,
    },
  };
}

async function assertPortsFree(settings: LabSettings): Promise<void> {
  const ports = LAB_SERVICES.map((service) => ({ service, port: servicePort(settings, service) }));
  const distinct = new Set(ports.map(({ port }) => port));
  if (distinct.size !== ports.length) {
    throw new LabStateError(
      `the lab needs four different ports, got ${ports.map((p) => `${p.service} ${p.port}`).join(', ')}`,
    );
  }
  for (const { service, port } of ports) {
    if (await isListening(port)) {
      throw new LabStateError(`127.0.0.1:${port}, the lab's ${service} port, is already in use: choose another port`);
    }
  }
}

async function readFragment(layout: LabLayout): Promise<ServerConfig> {
  const document = parseYaml(await readFile(layout.fragmentFile, 'utf8')) as { servers?: unknown[] };
  return serverSchema.parse(document.servers?.[0]);
}

function pidsOf(states: ServiceState[]): Record<LabService, number> {
  return Object.fromEntries(states.map((state) => [state.service, state.pid ?? 0])) as Record<LabService, number>;
}

/**
 * Starts a real mail host on loopback: Postfix, Dovecot, sshd and a relay sink, each under `stateDir`, and writes the
 * mailmend config entry for it. Returns once every service accepts connections; a lab that is already up is reported
 * as it is.
 *
 * @example const lab = await labUp({ stateDir: '.mailmend/lab' }); // lab.fragmentFile, lab.ports.smtp === 2525
 */
export async function labUp(options: LabUpOptions): Promise<LabInfo> {
  const startedAt = Date.now();
  const tools = requireLabTools();
  const layout = labLayout(options.stateDir);
  const previous = await readLabSettings(layout);
  if (previous) {
    const running = await runningLab(layout, previous);
    if (running) {
      return labInfo(layout, previous, {
        alreadyUp: true,
        startupMs: Date.now() - startedAt,
        pids: pidsOf(running),
        server: await readFragment(layout),
      });
    }
  }

  const settings = settingsFrom(options, previous);
  await assertPortsFree(settings);
  const server = await writeLabConfig(tools, layout, settings);
  await startLabServices({ tools, layout, settings });
  return labInfo(layout, settings, {
    alreadyUp: false,
    startupMs: Date.now() - startedAt,
    pids: pidsOf(await serviceStates(layout, settings)),
    server,
  });
}

/** The lab set up before, when every service of it is up; undefined when none runs. A partly running lab is refused. */
async function runningLab(layout: LabLayout, previous: LabSettings): Promise<ServiceState[] | undefined> {
  const states = await serviceStates(layout, previous);
  if (states.every((state) => state.up)) return states;
  if (states.some((state) => state.pid !== undefined)) {
    const summary = states.map((state) => `${state.service} ${state.up ? 'up' : 'down'}`).join(', ');
    throw new LabStateError(
      `the lab in ${layout.stateDir} is partly running (${summary}): ` +
        '`npx mailmend lab heal` starts the rest, `npx mailmend lab down` stops it',
    );
  }
  return undefined;
}

/** Writes every daemon's config, the known-good copy and the settings, and returns the lab's mailmend server entry. */
async function writeLabConfig(tools: LabTools, layout: LabLayout, settings: LabSettings): Promise<ServerConfig> {
  const mailUser = await ensureMailUser();
  await prepareDirectories(layout, mailUser);
  const canaryPassword = randomBytes(18).toString('base64url');
  await writeFile(layout.canaryPasswordFile, `${canaryPassword}\n`, { mode: 0o600 });
  await chmod(layout.canaryPasswordFile, 0o600);
  await writePostfixConfig(tools, layout, settings, mailUser);
  await writeDovecotConfig(layout, settings, mailUser, canaryPassword, await lookupGroupId('dovecot'));
  await writeSshdConfig(tools, layout, settings);
  await writeKnownGoodCopy(layout);
  await writeLabSettings(layout, settings);
  return writeServerFragment(layout, settings, await readPublicKey(`${layout.sshHostKey}.pub`));
}

/** Starts the services in order; when one fails, what had started is stopped again, so no half lab stays behind. */
async function startLabServices(context: LabContext): Promise<void> {
  const { tools, layout } = context;
  await addAlternateConfigDirs(tools.postconf, [layout.postfixConfigDir, layout.knownGoodPostfixDir]);
  try {
    for (const service of LAB_SERVICES) await startService(context, service);
  } catch (error) {
    try {
      await stopEverything(layout);
      await removeAlternateConfigDirs(tools.postconf, [layout.postfixConfigDir, layout.knownGoodPostfixDir]);
    } catch (cleanupError) {
      throw new AggregateError(
        [error, cleanupError],
        `${(error as Error).message}\nStopping what had started failed too: ${(cleanupError as Error).message}`,
      );
    }
    throw error;
  }
}

function labInfo(
  layout: LabLayout,
  settings: LabSettings,
  run: Pick<LabInfo, 'alreadyUp' | 'startupMs' | 'pids' | 'server'>,
): LabInfo {
  return {
    stateDir: layout.stateDir,
    serverId: settings.serverId,
    alreadyUp: run.alreadyUp,
    startupMs: run.startupMs,
    ports: settings.ports,
    pids: run.pids,
    paths: layout,
    fragmentFile: layout.fragmentFile,
    server: run.server,
  };
}

/**
 * Each service's port, pid and whether it is up: its process alive and its port accepting connections.
 *
 * @example (await labStatus('.mailmend/lab')).services.find((s) => s.service === 'postfix')?.up
 */
export async function labStatus(stateDir: string): Promise<LabStatus> {
  const layout = labLayout(stateDir);
  const settings = await readLabSettings(layout);
  if (!settings) return { stateDir: layout.stateDir, configured: false, services: [], allUp: false };
  const services = await serviceStates(layout, settings);
  return {
    stateDir: layout.stateDir,
    configured: true,
    serverId: settings.serverId,
    services,
    allUp: services.every((state) => state.up),
  };
}

/**
 * Causes one of the `LAB_SCENARIOS` outages on a healthy lab and returns once its effect is real.
 *
 * @example await labBreak('.mailmend/lab', 'deferred-backlog');
 */
export async function labBreak(stateDir: string, scenario: LabScenario): Promise<LabBreakResult> {
  const context = await loadLabContext(stateDir);
  const states = await serviceStates(context.layout, context.settings);
  const down = states
    .filter((state) => !state.up)
    .map((state) => `${state.service} ${state.stopped ? 'stopped' : 'down'}`);
  if (down.length > 0) {
    throw new LabStateError(
      `the lab is not healthy (${down.join(', ')}), so "${scenario}" would not be the only fault: ` +
        'run `npx mailmend lab heal` first',
    );
  }
  return runScenario(context, scenario);
}

/**
 * Starts or stops the relay sink, the lab's upstream relay, as an operator waits for it to come back.
 *
 * @example await labRelay('.mailmend/lab', 'start');
 */
export async function labRelay(stateDir: string, action: 'start' | 'stop'): Promise<{ pid?: number }> {
  const context = await loadLabContext(stateDir);
  const { layout, settings } = context;
  if (action === 'stop') {
    await stopRelay(layout);
    await waitServiceDown(layout, settings, 'relay');
    return {};
  }
  return { pid: (await relayPid(layout)) ?? (await startService(context, 'relay')) };
}

/**
 * Puts the lab back as `labUp` left it, whatever a scenario did or half did: stopped processes resumed, a foreign
 * listener stopped, tmpfs mounts moved off, the known-good config and the owners of the queue, the Maildirs and the
 * passwd-file restored, every service running, the queue flushed and empty.
 *
 * @example await labHeal('.mailmend/lab');
 */
export async function labHeal(stateDir: string): Promise<LabHealResult> {
  const context = await loadLabContext(stateDir);
  const { tools, layout, settings } = context;
  const actions: string[] = [];
  await undoRuntimeFaults(context, actions);
  const changed = await restoreKnownGood(layout, actions);
  await addAlternateConfigDirs(tools.postconf, [layout.postfixConfigDir, layout.knownGoodPostfixDir]);
  await restoreOwnership(context, actions);
  for (const state of await serviceStates(layout, settings)) {
    if (state.pid === undefined) {
      const pid = await startService(context, state.service);
      actions.push(`start ${state.service} (pid ${pid})`);
    } else if (state.service === 'postfix' && changed.has('postfix')) {
      await runOrThrow(postfixCommand(tools, layout, 'reload'), 'reloading Postfix');
      actions.push('reload Postfix');
    } else if (state.service === 'dovecot' && changed.has('dovecot')) {
      await runOrThrow([tools.doveadm, '-c', layout.dovecotConfig, 'reload'], 'reloading Dovecot');
      actions.push('reload Dovecot');
    }
  }
  await waitUntil('every lab service to listen', async () =>
    (await serviceStates(layout, settings)).every((s) => s.up),
  );
  await runOrThrow([tools.postqueue, '-c', layout.postfixConfigDir, '-f'], 'flushing the Postfix queue');
  actions.push('flush the Postfix queue');
  await waitUntil('the Postfix queue to empty', async () => (await readPostfixQueue(tools, layout)).length === 0, {
    timeoutMs: 60_000,
    intervalMs: 250,
    detail: async () => JSON.stringify(await readPostfixQueue(tools, layout)),
  });
  return { actions };
}

async function stopEverything(layout: LabLayout): Promise<LabDownResult> {
  const found = await Promise.all(
    LAB_SERVICES.map(async (service) => ({ service, pid: await servicePid(layout, service) })),
  );
  const stopped = found.filter((entry): entry is { service: LabService; pid: number } => entry.pid !== undefined);
  const roots = stopped.map((entry) => entry.pid);
  const children = descendantPids(roots);
  // A stopped (SIGSTOP) daemon would not act on SIGTERM before a SIGCONT; each lab daemon leads its process group.
  for (const { pid } of stopped) resumeStoppedGroup(pid);
  // The daemons stop their own children; only what outlives them (ssh sessions) is signalled directly.
  await stopPids(roots);
  await stopPids(children, 3_000);
  await stopForeignListener(scenarioStateDir(layout));
  // A scenario's tmpfs is not the lab's data: it goes, and what it hid comes back.
  await unmountAllUnder(layout.stateDir);
  return { stopped, childProcesses: children.length };
}

/**
 * Stops every process the lab started, by pid, waits until they are gone, and removes the lab's directories from
 * Postfix's `alternate_config_directories`. The state dir stays, so `labUp` can start again.
 *
 * @example await labDown('.mailmend/lab');
 */
export async function labDown(stateDir: string): Promise<LabDownResult> {
  const layout = labLayout(stateDir);
  const result = await stopEverything(layout);
  const { postconf } = findLabPrerequisites().tools;
  if (postconf) {
    await removeAlternateConfigDirs(postconf, [layout.postfixConfigDir, layout.knownGoodPostfixDir]);
  }
  return result;
}
