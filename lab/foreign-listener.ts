import { spawn } from 'node:child_process';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LabLayout } from './layout';
import { isListening, livePid, LOOPBACK, stopPids, waitUntil } from './processes';

/**
 * Another program on the SMTP port, as when someone starts a web server on a free-looking port: Python's http.server,
 * which accepts connections and waits for an HTTP request, so an SMTP client gets no banner.
 */
function pidFile(scenarioDir: string): string {
  return path.join(scenarioDir, 'foreign-listener.pid');
}

export async function startForeignListener(layout: LabLayout, scenarioDir: string, port: number): Promise<number> {
  await mkdir(scenarioDir, { recursive: true, mode: 0o700 });
  const log = await open(path.join(layout.logDir, 'foreign-listener.log'), 'a');
  try {
    const child = spawn('python3', ['-m', 'http.server', '--bind', LOOPBACK, String(port)], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      cwd: scenarioDir,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error('python3 -m http.server did not start');
    child.unref();
    await writeFile(pidFile(scenarioDir), `${pid}\n`);
    await waitUntil(`python3 -m http.server to listen on 127.0.0.1:${port}`, () => isListening(port));
    return pid;
  } finally {
    await log.close();
  }
}

/** Stops the foreign listener a scenario started, if it runs; returns its pid. */
export async function stopForeignListener(scenarioDir: string): Promise<number | undefined> {
  const pid = await livePid(pidFile(scenarioDir), 'http.server');
  if (pid !== undefined) await stopPids([pid]);
  await rm(pidFile(scenarioDir), { force: true });
  return pid;
}
