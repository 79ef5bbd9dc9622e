import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { ClusterRunResult } from './cluster-run';
import type { Figure } from './figures';

/**
 * Runs `cluster-run.ts` in a child process and returns its figures. A process of its own, as the dev server's run
 * had: the mailmend process's memory, its peak and its warmed-up code start from nothing, not from the first run's.
 */
export async function benchTheCluster(): Promise<Figure[]> {
  const child = fork(path.join(__dirname, 'cluster-run.ts'), { execArgv: ['--import', 'tsx'] });
  let result: ClusterRunResult | undefined;
  child.once('message', (message: ClusterRunResult) => {
    result = message;
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (!result) throw new Error(`the cluster run exited (${signal ?? `code ${String(code)}`}) without its figures`);
  return result.figures;
}
