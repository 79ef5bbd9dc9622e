/**
 * The search attributes every incident sets, so the Temporal UI and `temporal workflow list --query` can filter open
 * incidents. Each is a Keyword; the dev server registers them at start, a cluster with `temporal operator`.
 */
export const INCIDENT_SEARCH_ATTRIBUTES = [
  'MailServerId',
  'IncidentPhase',
  'IncidentSeverity',
  'PendingAction',
] as const;
export type IncidentSearchAttribute = (typeof INCIDENT_SEARCH_ATTRIBUTES)[number];
