import { readFile } from 'node:fs/promises';
import { startForeignListener } from '../foreign-listener';
import { postfixCommand } from '../postfix';
import { runCommand, waitUntil } from '../processes';
import { stopPostfix } from './stopped';
import { scenarioStateDir, ScenarioDidNotTakeError, type ScenarioRun } from './types';

/** What Postfix's master logs when another process holds the SMTP port it binds. */
export function bindFailure(port: number): string {
  return `fatal: bind 127.0.0.1 port ${port}: Address already in use`;
}

export const postfixPortTaken: ScenarioRun = async (context, record) => {
  const { tools, layout, settings } = context;
  const port = settings.ports.smtp;
  await stopPostfix(context, record);
  const pid = await startForeignListener(layout, scenarioStateDir(layout), port);
  record(`start python3 -m http.server on 127.0.0.1:${port} (pid ${pid})`);
  const logBefore = (await readFile(layout.postfixLog, 'utf8').catch(() => '')).length;
  const start = await runCommand(postfixCommand(tools, layout, 'start'));
  record('try to start Postfix, which fails', start);
  if (start.exitCode === 0) throw new ScenarioDidNotTakeError('postfix-port-taken', 'Postfix started anyway');
  await waitUntil(`"${bindFailure(port)}" in ${layout.postfixLog}`, async () =>
    (await readFile(layout.postfixLog, 'utf8')).slice(logBefore).includes(bindFailure(port)),
  );
  record(`postfix.log: ${bindFailure(port)}`);
};
