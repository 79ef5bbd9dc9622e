import { textTable } from '../platform/text-table';
import { existsSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import {
  CLUSTER_PORT_SPAN,
  DEFAULT_CLUSTER_BASE_PORT,
  HIGHEST_BASE_PORT,
  clusterDown,
  clusterLayout,
  clusterStatus,
  clusterUp,
  type ClusterServiceState,
} from './index';

const DEFAULT_STATE_DIR = '.mailmend/cluster';

interface ClusterCliDeps {
  stdout(text: string): void;
  stderr(text: string): void;
}

interface UpOptions {
  stateDir: string;
  config?: string;
  basePort?: number;
  deploymentName?: string;
  buildId?: string;
}

function parseBasePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1024 || port > HIGHEST_BASE_PORT) {
    throw new InvalidArgumentError(
      `must be a port from 1024 to ${HIGHEST_BASE_PORT}: Temporal keeps its membership ports (base+20 to base+23) ` +
        'in a PostgreSQL smallint',
    );
  }
  return port;
}

function serviceRows(services: ClusterServiceState[]): string {
  // The callers join lines themselves.
  return textTable(
    [
      ['SERVICE', 'ADDRESS', 'PID', 'STATE'],
      ...services.map((service) => [
        service.name,
        service.address ?? '-',
        service.pid === undefined ? '-' : String(service.pid),
        service.up ? 'up' : 'down',
      ]),
    ],
    '  ',
  ).trimEnd();
}

/**
 * The `mailmend cluster` group: Temporal on PostgreSQL with two workers and two webhooks on loopback, shaped like a
 * production deployment, to try failover and deploys on.
 *
 * @example mailmend cluster up --config mailmend.lab.yaml && temporal operator cluster health --address 127.0.0.1:17233
 */
export function registerClusterCommands(program: Command, deps: ClusterCliDeps): void {
  const cluster = program
    .command('cluster')
    .description('Temporal on PostgreSQL with two workers and two webhooks, on loopback (production-shaped)');
  addUpCommand(cluster, deps);
  addStatusCommand(cluster, deps);
  addDownCommand(cluster, deps);
}

const STATE_DIR_OPTION = [
  '--state-dir <dir>',
  'where the cluster keeps its database, config, pids and logs',
  DEFAULT_STATE_DIR,
] as const;

function addUpCommand(cluster: Command, deps: ClusterCliDeps): void {
  cluster
    .command('up')
    .description('start PostgreSQL, the Temporal server, its UI, two workers and two webhooks (what runs is kept)')
    .option(...STATE_DIR_OPTION)
    .option(
      '--config <file>',
      "the mailmend config for the workers and webhooks (default: $MAILMEND_CONFIG, else the last cluster's, else mailmend.yaml)",
    )
    .option(
      '--base-port <port>',
      `the first of the ${CLUSTER_PORT_SPAN} ports the cluster takes (default: the last cluster's, else ${DEFAULT_CLUSTER_BASE_PORT})`,
      parseBasePort,
    )
    .option('--deployment-name <name>', 'the Worker Deployment the workers join (default: mailmend)')
    .option('--build-id <id>', "the workers' build id (default: derived from the workflow code)")
    .action(async (options: UpOptions) => {
      const env = process.env;
      const info = await clusterUp({
        stateDir: options.stateDir,
        configFile: options.config ?? env.MAILMEND_CONFIG ?? lastOrDefaultConfig(options.stateDir),
        basePort: options.basePort,
        deploymentName: options.deploymentName,
        buildId: options.buildId,
        onProgress: (line) => deps.stderr(`${line}\n`),
      });
      deps.stdout(
        [
          `mailmend cluster is up in ${(info.startupMs / 1000).toFixed(1)} s (state in ${info.stateDir})`,
          serviceRows(info.services),
          `Temporal frontend ${info.frontendAddress}, namespace default; workers are ${info.settings.deploymentName} build ${info.settings.buildId} (current)`,
          ...(info.uiUrl ? [`Temporal UI       ${info.uiUrl}`] : []),
          `alerts:           ${info.webhookUrls.map((url) => `${url}/alerts/alertmanager`).join(' or ')}`,
          `CLI:              TEMPORAL_ADDRESS=${info.frontendAddress} npx mailmend incidents list`,
          // Versioned workers poll their version's queue, which the CLI's default view (unversioned only) leaves out.
          `pollers:          temporal task-queue describe --task-queue mailmend --address ${info.frontendAddress} ` +
            `--select-build-id ${info.settings.deploymentName}:${info.settings.buildId} (or --legacy-mode)`,
          '',
        ].join('\n'),
      );
    });
}

function addStatusCommand(cluster: Command, deps: ClusterCliDeps): void {
  cluster
    .command('status')
    .description('show whether each cluster process runs and listens, and who polls the mailmend task queue')
    .option(...STATE_DIR_OPTION)
    .action(async (options: { stateDir: string }) => {
      const status = await clusterStatus(options.stateDir);
      if (!status.configured) {
        deps.stdout(`no cluster in ${status.stateDir}: start one with \`npx mailmend cluster up\`\n`);
        return;
      }
      const down = status.services.filter((service) => !service.up).length;
      deps.stdout(
        [
          `cluster in ${status.stateDir}: ${status.allUp ? 'all up' : `${down} down`}; Temporal ${status.serving ? 'SERVING' : 'not serving'}`,
          serviceRows(status.services),
          `polling task queue mailmend: ${status.workflowPollers.length === 0 ? 'nobody' : status.workflowPollers.join(', ')}`,
          '',
        ].join('\n'),
      );
    });
}

function addDownCommand(cluster: Command, deps: ClusterCliDeps): void {
  cluster
    .command('down')
    .description('stop every cluster process by pid; the database stays for the next `up`')
    .option(...STATE_DIR_OPTION)
    .action(async (options: { stateDir: string }) => {
      const { stopped } = await clusterDown(options.stateDir);
      deps.stdout(
        stopped.length === 0
          ? 'nothing of the cluster was running\n'
          : `stopped ${stopped.map(({ name, pid }) => `${name} (pid ${pid})`).join(', ')}\n`,
      );
    });
}

/** Without --config or MAILMEND_CONFIG: the last cluster's config, which clusterUp reads itself, else mailmend.yaml. */
function lastOrDefaultConfig(stateDir: string): string | undefined {
  return existsSync(clusterLayout(stateDir).settingsFile) ? undefined : 'mailmend.yaml';
}
