import type { Logger } from 'pino';
import type { IncidentStepContext } from '../workflows/messages';

/** Every log line of an activity carries the incident, the server and the SOP step. */
export function stepLogger(logger: Logger, context: IncidentStepContext): Logger {
  return logger.child({ incidentId: context.incidentId, serverId: context.serverId, step: context.step });
}
