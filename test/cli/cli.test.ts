import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { processDeps, runCli, type CliDeps } from '../../client/cli/program';
import { raiseAlert } from '../../client/incidents';
import type { WorkflowHandle } from '@temporalio/client';
import {
  incidentWorkflowId,
  type Hypothesis,
  type IncidentPolicies,
  type IncidentState,
} from '../../workflows/messages';
import { createFakeActivities, type FakeActivityOptions } from '../support/fake-activities';
import { freePort } from '../support/processes';
import { raiseTestIncident, testAlert, testInput, waitForState } from '../support/incidents';
import { terminateIfRunning, uniqueServerId, useSharedTemporal, withWorker } from '../support/temporal';
import { eventually, signalsOf } from '../webhook/support';

const temporal = useSharedTemporal();
const NOW = new Date('2030-01-01T10:00:00.000Z');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mailmend <argv>` in-process against the shared dev server; the shared connection stays open. */
async function mailmend(...argv: string[]): Promise<CliRun> {
  return mailmendWithin(10_000, ...argv);
}

async function mailmendWithin(commandTimeoutMs: number, ...argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    connect: async () => ({ client: temporal.client, address: 'shared-dev-server', close: async () => undefined }),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    now: () => NOW,
    commandTimeoutMs,
  };
  const code = await runCli(argv, deps);
  return { code, stdout, stderr };
}

/** An incident run by a worker with fake activities, once it waits for approval. */
async function withIncidentAwaitingApproval(
  options: FakeActivityOptions,
  use: (serverId: string, handle: WorkflowHandle) => Promise<void>,
  policies: Partial<IncidentPolicies> = {},
  activities = createFakeActivities(options).activities,
): Promise<void> {
  const serverId = uniqueServerId('mx');
  const taskQueue = `cli-test-${randomUUID()}`;
  temporal.terminateAfterTest(incidentWorkflowId(serverId));
  await withWorker(temporal.workerConnection, taskQueue, activities, async () => {
    const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(serverId, policies));
    await waitForState(handle, (state) => state.phase === 'awaiting-approval');
    await use(serverId, handle);
  });
}

function rankedHypothesis(cause: string, actionId: string): Hypothesis {
  return {
    cause,
    failureClass: 'test',
    source: 'test',
    evidenceFor: [],
    evidenceAgainst: [],
    confidence: 0.5,
    actionId,
  };
}

/** An open incident on a queue no worker polls, so its history shows exactly the signals the CLI sent. */
async function openIncident(): Promise<string> {
  const serverId = uniqueServerId('mx');
  temporal.terminateAfterTest(incidentWorkflowId(serverId));
  await raiseAlert(temporal.client, testInput(serverId), testAlert({ labels: { server: serverId } }), {
    taskQueue: `cli-test-${randomUUID()}`,
  });
  return serverId;
}

describe('mailmend --version', () => {
  test('prints the version from package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(await mailmend('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('mailmend incidents', () => {
  test('show for a server without an incident fails with one clear line', async () => {
    const serverId = uniqueServerId('mx');

    const run = await mailmend('incidents', 'show', serverId);

    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: `mailmend: no incident for server ${serverId} (workflow ${incidentWorkflowId(serverId)})\n`,
    });
  });

  test('approve reports the outcome the incident gave, and a note reaches the incident', async () => {
    await withIncidentAwaitingApproval({}, async (serverId, handle) => {
      const approved = await mailmend(
        'incidents',
        'approve',
        serverId,
        '--by',
        'alice',
        '--comment',
        'restart is fine',
      );
      const noted = await mailmend('incidents', 'note', serverId, '--by', 'bob', '--text', 'vendor ticket 4711');

      expect(approved).toEqual({
        code: 0,
        stdout: `alice approved start-postfix on the incident on ${serverId}; the fix runs now\n`,
        stderr: '',
      });
      expect(noted).toEqual({ code: 0, stdout: `note by bob sent to the incident on ${serverId}\n`, stderr: '' });
      const state = await waitForState(handle, (current) => current.timeline.some((entry) => entry.event === 'note'));
      expect(state.approvedBy).toBe('alice');
      expect(state.timeline.filter((entry) => entry.actor !== 'mailmend').map((entry) => entry.event)).toEqual(
        expect.arrayContaining(['approved', 'note']),
      );
    });
  });

  test('approve --action asks for another offered action, which runs once another approver approves it', async () => {
    const offered: Hypothesis[] = [
      { ...rankedHypothesis('Postfix is stopped', 'start-postfix'), confidence: 0.8 },
      { ...rankedHypothesis('The queue directory is not writable', 'postfix-set-permissions'), confidence: 0.5 },
    ];
    await withIncidentAwaitingApproval({ hypotheses: offered }, async (serverId, handle) => {
      const asked = await mailmend(
        'incidents',
        'approve',
        serverId,
        '--by',
        'alice',
        '--action',
        'postfix-set-permissions',
      );
      const approved = await mailmend(
        'incidents',
        'approve',
        serverId,
        '--by',
        'bob',
        '--action',
        'postfix-set-permissions',
      );

      expect(asked).toEqual({
        code: 0,
        stdout:
          `alice asked for postfix-set-permissions on ${serverId} instead of the recommended fix; ` +
          'it runs once another approver approves with --action postfix-set-permissions\n',
        stderr: '',
      });
      expect(approved).toEqual({
        code: 0,
        stdout: `bob approved postfix-set-permissions on the incident on ${serverId}; the fix runs now\n`,
        stderr: '',
      });
      const state = await waitForState(handle, (current) => current.remediations.length > 0);
      expect(state.remediations[0]?.actionId).toBe('postfix-set-permissions');
    });
  });

  test("refusals exit 1 with the incident's reason; reject and eta report what the incident did", async () => {
    await withIncidentAwaitingApproval({}, async (serverId) => {
      const refused = (reason: string) => ({
        code: 1,
        stdout: '',
        stderr: `mailmend: the incident on ${serverId} refused: ${reason}\n`,
      });

      expect(await mailmend('incidents', 'approve', serverId, '--by', 'mallory')).toEqual(
        refused('mallory is not a listed approver'),
      );
      expect(await mailmend('incidents', 'approve', serverId, '--by', 'alice', '--action', 'rm-rf')).toEqual(
        refused('rm-rf is not among the offered actions (start-postfix)'),
      );
      expect(await mailmend('incidents', 'confirm', serverId, '--by', 'carol')).toEqual(
        refused('nothing awaits confirmation'),
      );
      expect(await mailmend('incidents', 'eta', serverId, '--by', 'carol', '--eta', '2h')).toEqual(
        refused('carol may not set the ETA: only listed approvers may'),
      );
      expect(await mailmend('incidents', 'eta', serverId, '--by', 'alice', '--eta', '2h')).toEqual({
        code: 0,
        stdout: `alice set the ETA of the incident on ${serverId} to 2030-01-01T12:00:00.000Z\n`,
        stderr: '',
      });
      expect(
        (await mailmend('incidents', 'eta', serverId, '--by', 'alice', '--eta', '2030-01-02T08:00:00+01:00')).stdout,
      ).toBe(`alice set the ETA of the incident on ${serverId} to 2030-01-02T07:00:00.000Z\n`);
      expect(
        await mailmend('incidents', 'reject', serverId, '--by', 'alice', '--reason', 'not during backups'),
      ).toEqual({
        code: 0,
        stdout: `alice rejected the fix on ${serverId} (rejection 1 of 2 before it is handed over)\n`,
        stderr: '',
      });
    });
  });

  test('bad input is refused before Temporal is asked, with the field named', async () => {
    const serverId = await openIncident();

    const blankName = await mailmend('incidents', 'approve', serverId, '--by', '  ');
    const badEta = await mailmend('incidents', 'eta', serverId, '--by', 'alice', '--eta', 'tomorrow-ish');
    const badDuration = await mailmend('incidents', 'eta', serverId, '--by', 'alice', '--eta', '2 fortnights');
    const missingReason = await mailmend('incidents', 'reject', serverId, '--by', 'alice');

    expect(blankName).toEqual({ code: 1, stdout: '', stderr: 'mailmend: by must not be empty\n' });
    expect(badEta.stderr).toBe(
      'mailmend: eta must be an ISO-8601 timestamp with a time zone, e.g. 2025-03-01T14:30:00Z\n',
    );
    expect(badDuration.stderr).toBe(
      'mailmend: --eta "2 fortnights" is neither an ISO-8601 time nor a duration such as 90m or 2h\n',
    );
    expect(missingReason.code).toBe(1);
    expect(missingReason.stderr).toBe("error: required option '--reason <text>' not specified\n");
    expect(await signalsOf(temporal.client, incidentWorkflowId(serverId))).toHaveLength(1);
  });

  test('a bad --eta is reported as such even while Temporal is down, and nothing connects', async () => {
    let connects = 0;
    let stderr = '';
    const code = await runCli(['incidents', 'eta', 'mx1', '--by', 'alice', '--eta', '2 fortnights'], {
      connect: () => {
        connects += 1;
        return Promise.reject(new Error('Temporal is unreachable at 127.0.0.1:1'));
      },
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
    });
    expect({ code, connects, stderr }).toEqual({
      code: 1,
      connects: 0,
      stderr: 'mailmend: --eta "2 fortnights" is neither an ISO-8601 time nor a duration such as 90m or 2h\n',
    });
  });

  test('a signal to a server without an open incident fails clearly', async () => {
    const serverId = uniqueServerId('mx');

    const run = await mailmend('incidents', 'confirm', serverId, '--by', 'carol');

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `mailmend: no open incident for server ${serverId} (workflow ${incidentWorkflowId(serverId)})\n`,
    );
  });

  test('Temporal unreachable: one line naming the address', async () => {
    const port = await freePort();
    let stderr = '';
    const deps: CliDeps = {
      ...processDeps({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }),
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
    };

    const code = await runCli(['incidents', 'show', 'mx1'], deps);

    expect(code).toBe(1);
    expect(stderr).toBe(`mailmend: Temporal is unreachable at 127.0.0.1:${port}\n`);
  });

  test('show for an incident no worker answers says so instead of blaming Temporal', async () => {
    const serverId = await openIncident();

    const run = await mailmendWithin(1_000, 'incidents', 'show', serverId);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'mailmend: Temporal at shared-dev-server is up, but the incident did not answer within 1000 ms: ' +
        'is a mailmend worker running?\n',
    );
  });

  test('show renders the live state, and list finds the incident', async () => {
    const serverId = uniqueServerId('mx');
    const taskQueue = `cli-test-${randomUUID()}`;
    temporal.terminateAfterTest(incidentWorkflowId(serverId));

    await withWorker(temporal.workerConnection, taskQueue, createFakeActivities().activities, async () => {
      await raiseAlert(temporal.client, testInput(serverId), testAlert({ labels: { server: serverId } }), {
        taskQueue,
      });
      // Settled: the outage notice went to all four channels and the approval request to the IT team's two; nothing
      // more is sent until the approval times out, so the text and the JSON below show the same state.
      await eventually(async () => {
        const run = await mailmend('incidents', 'show', serverId, '--json');
        if (run.code !== 0) return undefined;
        const state = JSON.parse(run.stdout) as IncidentState;
        return state.phase === 'awaiting-approval' && state.notifications.length === 6 ? run : undefined;
      }, 'the incident to wait for approval with every notification sent');

      const shown = await mailmend('incidents', 'show', serverId);
      const json = JSON.parse((await mailmend('incidents', 'show', serverId, '--json')).stdout) as IncidentState;

      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain(`Incident ${incidentWorkflowId(serverId)} on ${serverId}`);
      expect(shown.stdout).toMatch(/phase: +awaiting-approval/);
      expect(shown.stdout).toMatch(/may approve: +alice, bob/);
      expect(shown.stdout).toMatch(/confirmations: +0\/2/);
      expect(shown.stdout).toMatch(new RegExp(`notifications: +${json.notifications.length} sent`));
      expect(shown.stdout).toMatch(/ETA: +not set/);
      const timelineLines = shown.stdout.split('Timeline')[1]?.trim().split('\n').slice(1) ?? [];
      expect(timelineLines).toHaveLength(Math.min(15, json.timeline.length));

      const listed = await eventually(async () => {
        const run = await mailmend('incidents', 'list');
        return run.stdout.includes(serverId) ? run : undefined;
      }, 'the incident to appear in the visibility store');
      expect(listed.stdout).toMatch(new RegExp(`${serverId} +awaiting-approval +major +start-postfix +RUNNING`));

      await terminateIfRunning(temporal.client, incidentWorkflowId(serverId));
    });
  });
});

describe('mailmend incidents decisions', () => {
  const refused = (serverId: string, reason: string) => ({
    code: 1,
    stdout: '',
    stderr: `mailmend: the incident on ${serverId} refused: ${reason}\n`,
  });

  test('close by an approver ends the incident through its review; others are refused', async () => {
    await withIncidentAwaitingApproval({}, async (serverId, handle) => {
      expect(await mailmend('incidents', 'close', serverId, '--by', 'mallory', '--reason', 'bored')).toEqual(
        refused(serverId, 'mallory is not a listed approver'),
      );
      const missingReason = await mailmend('incidents', 'close', serverId, '--by', 'alice');

      const closed = await mailmend('incidents', 'close', serverId, '--by', 'alice', '--reason', 'fixed by hand');

      expect(missingReason).toMatchObject({
        code: 1,
        stderr: "error: required option '--reason <text>' not specified\n",
      });
      expect(closed).toEqual({
        code: 0,
        stdout: `alice closed the incident on ${serverId} (fixed by hand); it ends after the post-incident review\n`,
        stderr: '',
      });
      const final = (await handle.result()) as IncidentState;
      expect({ outcome: final.outcome, reason: final.outcomeReason, report: final.report !== undefined }).toEqual({
        outcome: 'closed',
        reason: 'closed by alice: fixed by hand',
        report: true,
      });
      expect(await mailmend('incidents', 'close', serverId, '--by', 'alice', '--reason', 'again')).toMatchObject({
        code: 1,
        stdout: '',
      });
    });
  });

  test('approve after the fix was approved, and confirm while approval waits, exit 1 with the reason', async () => {
    await withIncidentAwaitingApproval({}, async (serverId, handle) => {
      expect(await mailmend('incidents', 'confirm', serverId, '--by', 'carol')).toEqual(
        refused(serverId, 'nothing awaits confirmation'),
      );
      expect((await mailmend('incidents', 'approve', serverId, '--by', 'alice')).code).toBe(0);

      const again = await mailmend('incidents', 'approve', serverId, '--by', 'bob');

      expect(again).toEqual(refused(serverId, 'no fix is awaiting approval'));
      expect((await waitForState(handle, (state) => state.remediations.length > 0)).remediations).toHaveLength(1);
    });
  });

  test('with two approvers required, the first approval is counted and the second runs the fix', async () => {
    const twoForLow = { approvalsRequired: { low: 2, medium: 2, high: 2 } };
    await withIncidentAwaitingApproval(
      {},
      async (serverId, handle) => {
        const first = await mailmend('incidents', 'approve', serverId, '--by', 'alice');
        const twice = await mailmend('incidents', 'approve', serverId, '--by', 'alice');
        const second = await mailmend('incidents', 'approve', serverId, '--by', 'bob');

        expect(first).toEqual({
          code: 0,
          stdout:
            `alice's approval of start-postfix on ${serverId} counted: 1 of 2 approvers; ` +
            'it runs once another approver approves\n',
          stderr: '',
        });
        expect(twice).toEqual(
          refused(serverId, 'alice has already approved start-postfix: it needs 2 distinct approvers (1 so far)'),
        );
        expect(second.stdout).toBe(`bob approved start-postfix on the incident on ${serverId}; the fix runs now\n`);
        expect((await waitForState(handle, (state) => state.remediations.length > 0)).approvedBy).toBe('bob');
      },
      twoForLow,
    );
  });
});

describe('mailmend incidents show', () => {
  const driftEvidence =
    'main.cf differs from the known-good copy (modified 2030-01-01T09:58:00.000Z); backup ' +
    '/tmp/newcomer/mailmend/lab/postfix/main.cf.bak-20300101T095800: -daemon_directory = /usr/lib/postfix/sbin ' +
    '+daemon_directory = /usr/libexec/postfix';

  const configDiff = {
    file: '/tmp/newcomer/mailmend/lab/postfix/main.cf',
    comparedWith: '/tmp/newcomer/known-good/postfix/main.cf',
    diff: Array.from({ length: 12 }, (_, index) => `+smtpd_option_${index} = ${'x'.repeat(120)}`).join('\n'),
  };

  test('prints the full evidence, every cause with its evidence for and against, and commands that work', async () => {
    const fake = createFakeActivities({
      hypotheses: [
        {
          ...rankedHypothesis('Postfix refuses to start: main.cf changed since the known-good copy', 'start-postfix'),
          evidenceFor: [driftEvidence],
          evidenceAgainst: ['postfix check passes on the known-good copy'],
          confidence: 0.9,
        },
        {
          ...rankedHypothesis('The queue directory is not writable', 'postfix-set-permissions'),
          evidenceFor: ['queue directory owned by root'],
        },
      ],
    });
    const activities = {
      ...fake.activities,
      diagnoseOutage: async (input: Parameters<typeof fake.activities.diagnoseOutage>[0]) => {
        const diagnosis = await fake.activities.diagnoseOutage(input);
        return { ...diagnosis, evidence: [...diagnosis.evidence, driftEvidence], configDiffs: [configDiff] };
      },
    };
    await withIncidentAwaitingApproval(
      {},
      async (serverId) => {
        const shown = await mailmend('incidents', 'show', serverId);

        expect(shown.code).toBe(0);
        const evidence = shown.stdout.split('\n').filter((line) => line.includes(driftEvidence));
        expect(evidence).toEqual([`  - ${driftEvidence}`, `       for:     ${driftEvidence}`]);
        expect(shown.stdout).toContain('       against: postfix check passes on the known-good copy');
        expect(shown.stdout).toContain(`Diff of ${configDiff.file} against ${configDiff.comparedWith}:`);
        for (const line of configDiff.diff.split('\n')) expect(shown.stdout).toContain(`    ${line}\n`);
        expect(shown.stdout).toContain('  2. The queue directory is not writable (confidence 0.50');
        const next = shown.stdout
          .split('Next:\n')[1]
          ?.split('\n\n')[0]
          ?.trim()
          .split('\n')
          .map((line) => line.trim());
        expect(next).toEqual([
          `npx mailmend incidents approve ${serverId} --by alice`,
          `npx mailmend incidents approve ${serverId} --by alice --action postfix-set-permissions`,
          `npx mailmend incidents reject ${serverId} --by alice --reason "not now"`,
        ]);
        // As printed, minus the shell's quotes: the approval is taken.
        const approveLine = (next?.[1] ?? '').replace(/^npx mailmend /, '').split(' ');
        expect((await mailmend(...approveLine)).code).toBe(0);
      },
      {},
      activities,
    );
  });
});

describe('mailmend incidents list', () => {
  test('shows phase, severity and pending action from search attributes, and filters by phase', async () => {
    const serverId = uniqueServerId('mx');
    const older = await openIncident();
    const taskQueue = `cli-test-${randomUUID()}`;
    temporal.terminateAfterTest(incidentWorkflowId(serverId));

    await withWorker(temporal.workerConnection, taskQueue, createFakeActivities().activities, async () => {
      await raiseTestIncident(temporal.client, taskQueue, testInput(serverId));

      const awaiting = await eventually(async () => {
        const run = await mailmend('incidents', 'list', '--phase', 'awaiting-approval');
        return run.stdout.includes(serverId) ? run : undefined;
      }, 'the incident to be listed as awaiting approval');
      const all = await eventually(async () => {
        const run = await mailmend('incidents', 'list');
        return run.stdout.includes(older) && run.stdout.includes(serverId) ? run : undefined;
      }, 'both incidents to be listed');
      const verifying = await mailmend('incidents', 'list', '--phase', 'verification');
      const badPhase = await mailmend('incidents', 'list', '--phase', 'napping');

      expect(awaiting.stdout.split('\n')[0]).toMatch(/^SERVER +PHASE +SEVERITY +PENDING ACTION +STATUS +STARTED/);
      expect(awaiting.stdout).toMatch(
        new RegExp(`^${serverId} +awaiting-approval +major +start-postfix +RUNNING`, 'm'),
      );
      expect(awaiting.stdout).not.toContain(older);
      // An incident that never ran a workflow task has no search attributes: what Temporal knows is still shown.
      expect(all.stdout).toMatch(new RegExp(`^${older} +- +- +- +RUNNING`, 'm'));
      expect(verifying.stdout).not.toContain(serverId);
      expect(badPhase.code).toBe(1);
      expect(badPhase.stderr).toMatch(/argument 'napping' is invalid/);
    });
  });
});
