import { findCatalogAction, type CatalogAction, type CatalogActionId } from '../../activities/remediation-catalog';
import { createSshRemediationExecutor } from '../../activities/ssh-remediation';
import { labBreak, labHeal, labStatus, type LabScenario } from '../../lab';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { testNoIncidentEndedBadly } from '../support/incident-outcomes';
import { expectRestored, roundTripThroughLab, startLabE2e, type LabE2e } from '../support/lab-e2e';
import { RESTORED_SCENARIOS } from './scenario-outcomes';

let env: LabE2e;

beforeAll(async () => {
  env = await startLabE2e(
    'e2e-restored',
    RESTORED_SCENARIOS.map(({ scenario }) => scenario),
  );
}, 120_000);

afterEach(async () => {
  if (env) await labHeal(env.stateDir);
}, 120_000);

afterAll(async () => {
  await env?.close();
}, 120_000);

describe('an outage fixed end to end on the lab', () => {
  test.each(RESTORED_SCENARIOS)(
    '$scenario',
    async (expected) => {
      await expectRestored(env, expected);
    },
    300_000,
  );
});

function catalogAction(id: CatalogActionId): CatalogAction {
  const action = findCatalogAction(id);
  if (!action) throw new Error(`${id} is missing from the catalog`);
  return action;
}

/** The catalog action alone, over real SSH, against the real outage: no diagnosis, no workflow. */
describe('each new catalog action fixes its outage on the lab', () => {
  test.each(RESTORED_SCENARIOS.map(({ scenario, actionId }) => [scenario, actionId] as [LabScenario, CatalogActionId]))(
    '%s: %s',
    async (scenario, actionId) => {
      await labBreak(env.stateDir, scenario);
      const executor = createSshRemediationExecutor(createMailHostAccess(env.stack.loaded.secrets));
      const action = catalogAction(actionId);

      const first = await executor.runAction(env.lab.server, action, () => undefined);
      expect({ exitCode: first.exitCode, alreadyApplied: first.alreadyApplied, output: first.output }).toEqual({
        exitCode: 0,
        alreadyApplied: false,
        output: expect.any(String),
      });
      expect(first.snapshot?.length).toBeGreaterThan(0);
      expect((await labStatus(env.stateDir)).allUp).toBe(true);
      expect(await roundTripThroughLab(env.lab)).toBeGreaterThanOrEqual(0);

      if (action.idempotent) {
        const again = await executor.runAction(env.lab.server, action, () => undefined);
        expect({ alreadyApplied: again.alreadyApplied, exitCode: again.exitCode }).toEqual({
          alreadyApplied: true,
          exitCode: 0,
        });
      }
    },
    120_000,
  );

  test('fix-mailbox-ownership refuses to build without host.mailOwner', () => {
    const server = { ...env.lab.server, host: { ...env.lab.server.host, mailOwner: undefined } };
    expect(() => catalogAction('fix-mailbox-ownership').commands(server, '20260101T000000Z')).toThrow(
      /has no host\.mailOwner/,
    );
  });
});

testNoIncidentEndedBadly(() => ({ client: env.client, incidents: env.incidents() }));
