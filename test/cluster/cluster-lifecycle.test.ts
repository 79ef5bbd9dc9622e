import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runMailmend } from '../../app/mailmend';
import type { CliDeps } from '../../client/cli/deps';
import {
  CLUSTER_WORKERS,
  clusterDown,
  HIGHEST_BASE_PORT,
  clusterPorts,
  clusterProcessPid,
  clusterStatus,
  freeClusterBasePort,
  workerIdentity,
} from '../../cluster';
import { isListening, isProcessAlive } from '../../lab/processes';
import { resolveTemporalCli } from '../../platform/temporal/cli/resolve';

const run = promisify(execFile);

/** One server the workers never reach: this file is about the cluster's processes, not incidents. */
const CONFIG = `servers:
  - id: mx-lifecycle
    smtp: { host: 127.0.0.1, port: 9 }
    imap: { host: 127.0.0.1, port: 9, tls: false }
fallbackRelay: { host: 127.0.0.1, port: 9, from: mailmend@example.org }
audiences:
  itTeam: { channels: [{ name: it, type: email, to: [it@example.org] }] }
  management: { channels: [{ name: mgmt, type: email, to: [mgmt@example.org] }] }
  users: { channels: [{ name: users, type: email, to: [users@example.org] }] }
approvers: [alice]
`;

async function mailmend(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    connect: () => Promise.reject(new Error('the cluster commands connect on their own')),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  const code = await runMailmend(argv, deps);
  return { code, stdout, stderr };
}

describe('mailmend cluster up, status and down', () => {
  let root: string;
  let stateDir: string;
  let temporalCli: string;
  let basePort: number;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'mailmend-cluster-lifecycle-'));
    // PostgreSQL runs as the postgres user, which must reach its data directory.
    await chmod(root, 0o755);
    stateDir = path.join(root, 'cluster');
    await writeFile(path.join(root, 'mailmend.yaml'), CONFIG);
    const { executable } = await resolveTemporalCli({ env: process.env, onProgress: () => undefined });
    if (executable.type !== 'existing-path') throw new Error('these tests need the Temporal CLI binary');
    temporalCli = executable.path;
    basePort = await freeClusterBasePort();
  }, 60_000);

  afterAll(async () => {
    await clusterDown(stateDir);
    await rm(root, { recursive: true, force: true });
  }, 120_000);

  test('up serves the frontend, and two workers poll the mailmend task queue', async () => {
    const up = await mailmend([
      'cluster',
      'up',
      '--state-dir',
      stateDir,
      '--config',
      path.join(root, 'mailmend.yaml'),
      '--base-port',
      String(basePort),
    ]);
    expect(up.code === 0 ? 0 : up.stderr).toBe(0);
    const frontend = `127.0.0.1:${clusterPorts(basePort).frontend}`;
    expect(up.stdout).toContain(`Temporal frontend ${frontend}`);

    const health = await run(temporalCli, ['operator', 'cluster', 'health', '--address', frontend]);
    expect(health.stdout.trim()).toBe('SERVING');

    // Versioned workers poll their version's queue, which the CLI lists in its legacy mode or by build id.
    const described = await run(temporalCli, [
      'task-queue',
      'describe',
      '--task-queue',
      'mailmend',
      '--address',
      frontend,
      '--legacy-mode',
    ]);
    const workers = await Promise.all(CLUSTER_WORKERS.map((name) => clusterProcessPid(stateDir, name)));
    for (const pid of workers) expect(described.stdout).toContain(workerIdentity(pid as number));
    const { settings } = await clusterStatus(stateDir);
    const byVersion = await run(temporalCli, [
      'task-queue',
      'describe',
      '--task-queue',
      'mailmend',
      '--address',
      frontend,
      '--select-build-id',
      `${settings?.deploymentName}:${settings?.buildId}`,
    ]);
    for (const pid of workers) expect(byVersion.stdout).toContain(workerIdentity(pid as number));
    expect(new Set(workers).size).toBe(2);

    const status = await mailmend(['cluster', 'status', '--state-dir', stateDir]);
    expect(status.stdout).toContain('all up; Temporal SERVING');
  }, 300_000);

  test('up with another build while the workers run is refused, naming both builds', async () => {
    const running = await clusterStatus(stateDir);
    const refused = await mailmend(['cluster', 'up', '--state-dir', stateDir, '--build-id', 'another-build']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `the cluster's workers run build ${running.settings?.buildId}, and this code is build another-build`,
    );
    expect((await clusterStatus(stateDir)).services.map((service) => service.pid)).toEqual(
      running.services.map((service) => service.pid),
    );
  });

  test('up again keeps what runs and restarts only what has stopped', async () => {
    const before = await clusterStatus(stateDir);
    const webhookB = before.services.find((service) => service.name === 'webhook-b');
    expect(webhookB?.pid).toBeDefined();
    process.kill(webhookB?.pid as number, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await clusterStatus(stateDir)).allUp).toBe(false);

    expect(await mailmend(['cluster', 'up', '--state-dir', stateDir])).toMatchObject({ code: 0 });
    const after = await clusterStatus(stateDir);
    expect(after.allUp).toBe(true);
    for (const service of after.services) {
      const earlier = before.services.find((candidate) => candidate.name === service.name);
      if (service.name === 'webhook-b') expect(service.pid).not.toBe(earlier?.pid);
      else expect(service.pid).toBe(earlier?.pid);
    }
  }, 180_000);

  test('down stops every process by pid and frees every port; the data stays for the next up', async () => {
    const { services } = await clusterStatus(stateDir);
    const down = await mailmend(['cluster', 'down', '--state-dir', stateDir]);
    expect(down.code).toBe(0);
    for (const { name, pid } of services) {
      expect(down.stdout).toContain(`${name} (pid ${pid})`);
      expect(isProcessAlive(pid as number)).toBe(false);
    }
    const ports = clusterPorts(basePort);
    for (const port of [ports.postgresql, ports.frontend, ports.ui, ports.webhookA, ports.webhookB]) {
      expect(await isListening(port)).toBe(false);
    }
    expect((await mailmend(['cluster', 'down', '--state-dir', stateDir])).stdout).toBe(
      'nothing of the cluster was running\n',
    );

    const again = await mailmend(['cluster', 'up', '--state-dir', stateDir]);
    expect(again.code).toBe(0);
    expect((await clusterStatus(stateDir)).allUp).toBe(true);
  }, 300_000);

  test('a base port that would put membership ports beyond a smallint is refused before anything starts', async () => {
    const refused = await mailmend(['cluster', 'up', '--state-dir', path.join(root, 'other'), '--base-port', '32750']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`--base-port`);
    expect(refused.stderr).toContain(`must be a port from 1024 to ${HIGHEST_BASE_PORT}`);
  });
});
