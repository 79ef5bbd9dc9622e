import { isListening, tailFile, waitUntil } from '../lab/processes';
import { LOOPBACK } from '../platform/loopback';
import { resolveTemporalUiServer, uiServerArgs } from '../platform/temporal/ui-server/resolve';
import { daemonEnv } from './daemon-env';
import { assertStillRunning, daemonPid, startDaemon, stopDaemon } from './daemons';
import { processLogFile, type ClusterLayout, type ClusterPorts } from './layout';

const READY_TIMEOUT_MS = 30_000;

export function uiPid(layout: ClusterLayout): Promise<number | undefined> {
  return daemonPid(layout, 'temporal-ui');
}

/**
 * The Temporal Web UI for the cluster's frontend: the UI server library the CLI embeds in `start-dev`, built into a
 * program of its own, since the CLI cannot point its UI at another frontend.
 */
export async function startUi(
  layout: ClusterLayout,
  ports: ClusterPorts,
  onProgress: (line: string) => void,
): Promise<number> {
  const running = await uiPid(layout);
  if (running !== undefined) return running;
  const { executable } = await resolveTemporalUiServer({ env: daemonEnv(), onProgress });
  const args = uiServerArgs({ frontendAddress: `${LOOPBACK}:${ports.frontend}`, host: LOOPBACK, port: ports.ui });
  const pid = await startDaemon(layout, 'temporal-ui', {
    argv: [executable, ...args],
    env: daemonEnv(),
    marker: executable,
  });
  await waitUntil(
    `the Temporal UI to listen on ${LOOPBACK}:${ports.ui}`,
    async () => {
      await assertStillRunning(layout, 'temporal-ui', pid);
      return isListening(ports.ui);
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200, detail: () => tailFile(processLogFile(layout, 'temporal-ui')) },
  );
  return pid;
}

export function stopUi(layout: ClusterLayout): Promise<number | undefined> {
  return stopDaemon(layout, 'temporal-ui');
}
