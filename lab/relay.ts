import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import type { LabLayout, LabSettings } from './layout';
import { LabServiceError } from './errors';
import { isProcessAlive, livePid, stopPids, tailFile, waitUntil } from './processes';

const RELAY_ENTRY = 'relay-process';

/**
 * How to start the relay sink: from TypeScript sources (this file is `.ts`, under tsx or ts-jest) through tsx, from
 * the compiled `dist` with plain node.
 */
function relayStartCommand(layout: LabLayout, settings: LabSettings): string[] {
  const extension = path.extname(__filename);
  const entry = path.join(__dirname, `${RELAY_ENTRY}${extension === '.ts' ? '.ts' : '.js'}`);
  const loader = extension === '.ts' ? ['--import', 'tsx'] : [];
  return [
    process.execPath,
    ...loader,
    entry,
    '--port',
    String(settings.ports.relay),
    '--pid-file',
    layout.relayPidFile,
  ];
}

export function relayPid(layout: LabLayout): Promise<number | undefined> {
  return livePid(layout.relayPidFile, RELAY_ENTRY);
}

/** Starts the relay sink detached, so it outlives the command that started it. */
export async function startRelay(layout: LabLayout, settings: LabSettings): Promise<number> {
  const [node, ...args] = relayStartCommand(layout, settings) as [string, ...string[]];
  const log = openSync(layout.relayLog, 'a');
  // The repository root, where `--import tsx` resolves from: one level above lab/, or two above dist/lab/.
  const cwd = path.resolve(__dirname, ...(path.extname(__filename) === '.ts' ? ['..'] : ['..', '..']));
  const child = spawn(node, args, { cwd, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const childPid = child.pid;
  if (childPid === undefined) throw new Error(`could not start the relay sink: ${node} ${args.join(' ')}`);
  await waitUntil('the relay sink to write its pid file', async () => {
    if (isProcessAlive(childPid)) return (await relayPid(layout)) === childPid;
    throw new LabServiceError('relay sink', 'exited at start', layout.relayLog, await tailFile(layout.relayLog));
  });
  return childPid;
}

export async function stopRelay(layout: LabLayout): Promise<void> {
  const pid = await relayPid(layout);
  if (pid !== undefined) await stopPids([pid]);
}
