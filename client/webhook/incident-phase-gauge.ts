import { Gauge } from 'prom-client';
import { INCIDENTS_GAUGE } from '../../platform/metrics';
import { PHASES, WORKFLOW_TYPE, type Phase } from '../../workflows/messages';
import type { WebhookContext } from './context';

const OPEN_INCIDENTS_QUERY = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;

/** A scrape must answer quickly even while Temporal is down; Prometheus keeps the last values it saw. */
const CENSUS_TIMEOUT_MS = 1_000;

/** Counting stops here, so a flood of incidents cannot make every scrape page through all of them. */
const CENSUS_LIMIT = 1_000;

/**
 * Registers `mailmend_incidents{phase}`: at every scrape it counts the open incidents by the `phase` memo the workflow
 * keeps up to date (`unknown` when an incident has none yet). When Temporal does not answer in time, the gauge is
 * left empty rather than reporting stale counts.
 */
export function registerIncidentPhaseGauge(context: WebhookContext): void {
  const { registry } = context.metrics;
  // A webhook rebuilt on the same metrics takes the gauge over, so scrapes ask a client that is still open.
  registry.removeSingleMetric(INCIDENTS_GAUGE);
  new Gauge({
    name: INCIDENTS_GAUGE,
    help: `Open incidents by phase, counted from Temporal's visibility store (at most ${CENSUS_LIMIT}).`,
    labelNames: ['phase'],
    registers: [registry],
    async collect() {
      this.reset();
      let counts: Map<string, number>;
      try {
        counts = await context.withinDeadline(CENSUS_TIMEOUT_MS, () => countOpenIncidentsByPhase(context));
      } catch (error) {
        context.logger.debug({ serverId: null, err: error }, 'open incidents not counted for /metrics');
        return;
      }
      for (const [phase, count] of counts) this.set({ phase }, count);
    },
  });
}

async function countOpenIncidentsByPhase({ client }: WebhookContext): Promise<Map<string, number>> {
  const counts = new Map<string, number>(PHASES.map((phase) => [phase, 0]));
  let seen = 0;
  for await (const execution of client.workflow.list({ query: OPEN_INCIDENTS_QUERY, pageSize: CENSUS_LIMIT })) {
    const phase = phaseOf(execution.memo);
    counts.set(phase, (counts.get(phase) ?? 0) + 1);
    if (++seen >= CENSUS_LIMIT) break;
  }
  return counts;
}

/** Only known phases become label values, so a stray memo cannot grow the series without bound. */
function phaseOf(memo: Record<string, unknown> | undefined): Phase | 'unknown' {
  const phase = memo?.phase;
  return typeof phase === 'string' && (PHASES as readonly string[]).includes(phase) ? (phase as Phase) : 'unknown';
}
