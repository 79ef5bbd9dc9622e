import { createDiagnosisActivities, type DiagnosisDeps } from './diagnosis';
import { createRoundTripActivities, type RoundTripDeps } from './mail-roundtrip';
import { createNotifyActivities, type NotifyDeps } from './notify';
import { createProbeActivities, type ProbeDeps } from './probes';
import { createRemediationActivities, type RemediationDeps } from './remediation';
import { createReportActivities, type ReportDeps } from './report';

import type { MailmendActivities } from '../workflows/activity-contract';

export type { MailmendActivities } from '../workflows/activity-contract';

export type ActivityDeps = ProbeDeps & DiagnosisDeps & RoundTripDeps & NotifyDeps & RemediationDeps & ReportDeps;

/** All activities of the incident workflow, built from clients the worker made once. */
export function createActivities(deps: ActivityDeps): MailmendActivities {
  return {
    ...createProbeActivities(deps),
    ...createDiagnosisActivities(deps),
    ...createRoundTripActivities(deps),
    ...createNotifyActivities(deps),
    ...createRemediationActivities(deps),
    ...createReportActivities(deps),
  };
}
