import { labHeal } from '../../lab';
import { expectEscalated, startLabE2e, type E2eExpectation, type LabE2e } from '../support/lab-e2e';

/** Outages no catalog action fixes: mailmend must name the cause and hand over, asking nobody to approve. */
const escalated: Extract<E2eExpectation, { outcome: 'escalated' }>[] = [
  {
    scenario: 'postfix-port-taken',
    outcome: 'escalated',
    rootCause: /^Postfix cannot start: \S+ port \d+ is already in use by python3 \(pid \d+\)/,
  },
  {
    scenario: 'queue-disk-full',
    outcome: 'escalated',
    rootCause: /^The filesystem of the Postfix queue \(\S+postfix-queue, .*\) has less free space than Postfix needs/,
  },
  {
    scenario: 'passdb-unreadable',
    outcome: 'escalated',
    rootCause: /(passwd-file|passdb|password file).*(Permission denied|permission|unreadable)/i,
  },
  {
    scenario: 'mail-disk-full',
    outcome: 'escalated',
    rootCause: /^The filesystem under \S+\/mail \(\S+\/mail\) is (full|out of inodes)/,
  },
  { scenario: 'tls-cert-expired', outcome: 'escalated', rootCause: /certificate.*expired|expired.*certificate/i },
];

let env: LabE2e;

beforeAll(async () => {
  env = await startLabE2e(
    'e2e-escalated',
    escalated.map(({ scenario }) => scenario),
  );
}, 120_000);

afterEach(async () => {
  if (env) await labHeal(env.stateDir);
}, 120_000);

afterAll(async () => {
  await env?.close();
}, 120_000);

describe('an outage handed over with its cause named', () => {
  test.each(escalated)(
    '$scenario',
    async (expected) => {
      await expectEscalated(env, expected);
    },
    300_000,
  );
});
