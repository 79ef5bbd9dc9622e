import { LabServiceError } from './errors';
import { LabCommandError, runCommand, tailFile } from './processes';

/**
 * Runs one step of starting a lab daemon. A non-zero exit fails with the command's output and the end of the daemon's
 * log, where the daemon says why it would not start.
 */
export async function runDaemonStartStep(service: string, command: string[], logFile: string): Promise<void> {
  const result = await runCommand(command);
  if (result.exitCode === 0) return;
  const failure = new LabCommandError(result);
  throw new LabServiceError(service, `did not start: ${failure.message}`, logFile, await tailFile(logFile), {
    cause: failure,
  });
}
