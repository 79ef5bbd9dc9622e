import type { LabContext } from '../context';
import { processGroupStates, waitUntil } from '../processes';
import { servicePid, servicePort } from '../services';
import { greetingWithin } from './observe';
import { ScenarioDidNotTakeError, type RecordStep, type ScenarioRun } from './types';

type FreezableService = 'postfix' | 'dovecot' | 'sshd';

/** Whom the SIGSTOP to the service's process group reaches, as the step names it. */
const STOPPED_PROCESSES: Record<FreezableService, string> = {
  postfix: "postfix's master and every child in its process group",
  dovecot: "dovecot's master and every child in its process group",
  // sshd calls setsid() for each connection, so its group holds the listener alone.
  sshd: "sshd's listener; logins already open run in sessions of their own and carry on",
};

/**
 * As when someone presses Ctrl-Z on a daemon run in the foreground for debugging, or a backup script pauses it and
 * dies: SIGSTOP to the whole process group. The kernel still completes TCP handshakes into the listen backlog, so
 * clients connect, but nothing ever answers.
 *
 * For sshd the group is the listener alone, as when that one process is stuck: the banner comes from the child it
 * forks for each connection, so no new client gets `SSH-2.0-…`, while logins already open carry on, as they do on such
 * a host. mailmend opens a connection for each look at the host, so it meets the silent listener.
 */
async function freeze(context: LabContext, record: RecordStep, service: FreezableService): Promise<void> {
  const pid = await servicePid(context.layout, service);
  if (pid === undefined) throw new Error(`${service} is not running, so there is nothing to freeze`);
  process.kill(-pid, 'SIGSTOP');
  record(`kill -STOP -- -${pid} (${STOPPED_PROCESSES[service]})`);
  const running = () => processGroupStates(pid).filter((process) => process.state !== 'T');
  // The kernel delivers the signal to each process on its own schedule.
  await waitUntil(`every process of group ${pid} to stop`, () => running().length === 0, { timeoutMs: 5_000 }).catch(
    () => {
      throw new ScenarioDidNotTakeError(
        `${service}-frozen`,
        `pids ${running()
          .map((p) => p.pid)
          .join(', ')} still run`,
      );
    },
  );
  const states = processGroupStates(pid);
  record(
    states.length === 1
      ? `ps: ${pid}, the only process of its group, is stopped (T)`
      : `ps: all ${states.length} processes of group ${pid} are stopped (T)`,
  );
  const port = servicePort(context.settings, service);
  const greeting = await greetingWithin(port);
  if (greeting !== undefined) {
    throw new ScenarioDidNotTakeError(`${service}-frozen`, `127.0.0.1:${port} still greets: ${greeting}`);
  }
  record(`127.0.0.1:${port} accepts the connection but sends no ${service === 'sshd' ? 'SSH banner' : 'greeting'}`);
}

export const postfixFrozen: ScenarioRun = (context, record) => freeze(context, record, 'postfix');
export const dovecotFrozen: ScenarioRun = (context, record) => freeze(context, record, 'dovecot');
export const sshdFrozen: ScenarioRun = (context, record) => freeze(context, record, 'sshd');
