import { labHeal } from '../../lab';
import { testNoIncidentEndedBadly } from '../support/incident-outcomes';
import { expectEscalated, startLabE2e, type LabE2e } from '../support/lab-e2e';
import { ESCALATED_SCENARIOS } from './scenario-outcomes';

let env: LabE2e;

beforeAll(async () => {
  env = await startLabE2e(
    'e2e-escalated',
    ESCALATED_SCENARIOS.map(({ scenario }) => scenario),
  );
}, 120_000);

afterEach(async () => {
  if (env) await labHeal(env.stateDir);
}, 120_000);

afterAll(async () => {
  await env?.close();
}, 120_000);

describe('an outage handed over with its cause named', () => {
  test.each(ESCALATED_SCENARIOS)(
    '$scenario',
    async (expected) => {
      await expectEscalated(env, expected);
    },
    300_000,
  );
});

testNoIncidentEndedBadly(() => ({ client: env.client, incidents: env.incidents() }));
