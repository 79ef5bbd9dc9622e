/** What programs use to drive mailmend incidents; the CLI and the webhook are built on the same functions. */
export {
  connectClient,
  lazyClient,
  temporalSettingsFromEnv,
  isTemporalUnavailable,
  TemporalUnreachableError,
  DEFAULT_TEMPORAL_ADDRESS,
  type TemporalSettings,
  type TemporalClientConnection,
} from '../platform/temporal/connection';
export {
  raiseAlert,
  getIncidentState,
  approve,
  reject,
  confirm,
  addNote,
  setEta,
  listIncidents,
  IncidentCommandError,
  IncidentNotFoundError,
  type RaiseAlertOptions,
  type RaisedAlert,
  type IncidentSummary,
  type ListIncidentsOptions,
} from './incidents';
export {
  incidentWorkflowId,
  TASK_QUEUE,
  WORKFLOW_TYPE,
  type AlertPayload,
  type ApproveSignal,
  type RejectSignal,
  type ConfirmSignal,
  type NoteSignal,
  type SetEtaSignal,
  type IncidentInput,
  type IncidentState,
  type Phase,
  type Severity,
  type Scope,
} from '../workflows/messages';
export { incidentInputFor } from '../config/incident-input';
