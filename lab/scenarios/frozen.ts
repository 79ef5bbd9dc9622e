import type { LabContext } from '../context';
import { processGroupStates, waitUntil } from '../processes';
import { servicePid, servicePort } from '../services';
import { greetingWithin } from './observe';
import { ScenarioDidNotTakeError, type RecordStep, type ScenarioRun } from './types';

/**
 * As when someone presses Ctrl-Z on a daemon run in the foreground for debugging, or a backup script pauses it and
 * dies: SIGSTOP to the whole process group. The kernel still completes TCP handshakes into the listen backlog, so
 * clients connect, but nothing ever answers.
 */
async function freeze(context: LabContext, record: RecordStep, service: 'postfix' | 'dovecot'): Promise<void> {
  const pid = await servicePid(context.layout, service);
  if (pid === undefined) throw new Error(`${service} is not running, so there is nothing to freeze`);
  process.kill(-pid, 'SIGSTOP');
  record(`kill -STOP -- -${pid} (${service}'s master and every child in its process group)`);
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
  record(`ps: all ${states.length} processes of group ${pid} are stopped (T)`);
  const port = servicePort(context.settings, service);
  const greeting = await greetingWithin(port);
  if (greeting !== undefined) {
    throw new ScenarioDidNotTakeError(`${service}-frozen`, `127.0.0.1:${port} still greets: ${greeting}`);
  }
  record(`127.0.0.1:${port} accepts the connection but sends no greeting`);
}

export const postfixFrozen: ScenarioRun = (context, record) => freeze(context, record, 'postfix');
export const dovecotFrozen: ScenarioRun = (context, record) => freeze(context, record, 'dovecot');
