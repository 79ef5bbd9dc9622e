/** The mailmend lab: a real Postfix, Dovecot and sshd on loopback, with scenarios that break them as on a real host. */
export {
  labUp,
  labStatus,
  labBreak,
  labHeal,
  labRelay,
  labDown,
  type LabUpOptions,
  type LabInfo,
  type LabStatus,
  type LabHealResult,
  type LabDownResult,
} from './lab';
export {
  LAB_SCENARIOS,
  LAB_SCENARIO_SUMMARIES,
  isLabScenario,
  type LabScenario,
  type LabBreakResult,
} from './scenarios';
export { LAB_SERVICES, type LabService, type ServiceState } from './services';
export { LAB_CANARY, LAB_DOMAIN, DEFAULT_LAB_PORTS, labLayout, type LabLayout, type LabPorts } from './layout';
export {
  LAB_INSTALL_COMMAND,
  LabPrerequisiteError,
  findLabPrerequisites,
  installLabPrerequisites,
  requireLabTools,
  type PrerequisiteSearch,
} from './prerequisites';
export { LabServiceError, LabStateError } from './errors';
