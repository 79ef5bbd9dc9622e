import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CLUSTER_BASE_PORT } from '../../cluster/layout';
import {
  clusterTopology,
  DEFAULT_DEPLOYMENT_NAME,
  POSTGRESQL_MAJOR,
  TEMPORAL_DATABASE,
  type ClusterServiceSpec,
} from '../../cluster/topology';
import { TEMPORAL_SERVER_VERSION } from '../../platform/temporal/server/resolve';
import { UI_SERVER_VERSION } from '../../platform/temporal/ui-server/resolve';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { imageReference, loadComposeServices, type ComposeService } from '../support/compose-file';

// CI has no Docker engine, so docker-compose.yml is never run there; these checks are what hold it to the cluster.

const REPO_ROOT = path.join(__dirname, '..', '..');
/** The checkout is mounted at /app in the mailmend containers. */
const CONFIG_FILE = '/app/mailmend.yaml';

const topology = clusterTopology({
  basePort: DEFAULT_CLUSTER_BASE_PORT,
  configFile: CONFIG_FILE,
  deploymentName: DEFAULT_DEPLOYMENT_NAME,
  buildId: 'x',
});
const compose = loadComposeServices(path.join(REPO_ROOT, 'docker-compose.yml'));

/** Cluster services the compose file leaves out, and why. */
const ONLY_IN_CLUSTER: Record<string, string> = {};

/** Compose services with no cluster counterpart: one-shots doing what `mailmend cluster up` does itself. */
const ONE_SHOTS: Record<string, string> = {
  'temporal-schema': 'creates the databases and the schema, as `cluster up` does with temporal-sql-tool',
  'temporal-namespace': 'creates the namespace and the search attributes, as `cluster up` does once the server answers',
  'mailmend-build':
    'installs and compiles the checkout once for the mailmend containers, which `cluster up` runs built',
};

/** The official image each service runs. */
const OFFICIAL_IMAGE: Record<ClusterServiceSpec['role'], string> = {
  database: 'postgres',
  temporal: 'temporalio/server',
  ui: 'temporalio/ui',
  worker: 'node',
  webhook: 'node',
};
const ONE_SHOT_IMAGE: Record<string, string> = {
  'temporal-schema': 'temporalio/admin-tools',
  'temporal-namespace': 'temporalio/admin-tools',
  'mailmend-build': 'node',
};

function service(name: string): ComposeService {
  const found = compose.get(name);
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function clusterService(name: string): ClusterServiceSpec {
  const found = topology.find((spec) => spec.name === name);
  if (!found) throw new Error(`the cluster has no service "${name}"`);
  return found;
}

function tagOf(name: string): string {
  return imageReference(service(name).image).tag ?? '';
}

/** The container port that `hostPort` forwards to. */
function containerPort(name: string, hostPort: number | undefined): number {
  const port = service(name).ports.find(({ published }) => published === hostPort);
  if (!port) throw new Error(`${name} does not publish host port ${String(hostPort)}`);
  return port.target;
}

/** The first `major.minor.patch` in `text`, as numbers; [0, 0, 0] when there is none. */
function versionOf(text: string): number[] {
  return (/(\d+)\.(\d+)\.(\d+)/.exec(text)?.slice(1) ?? ['0', '0', '0']).map(Number);
}

function compareVersions(left: number[], right: number[]): number {
  const index = left.findIndex((part, at) => part !== right[at]);
  return index === -1 ? 0 : (left[index] ?? 0) - (right[index] ?? 0);
}

/** The cluster's services that the compose file runs too. */
const shared = topology.filter((spec) => compose.has(spec.name));
const mailmendProcesses = shared.filter((spec) => spec.role === 'worker' || spec.role === 'webhook');
const databaseService = topology.find((spec) => spec.role === 'database')?.name;
const frontendAddress = (): string =>
  `temporal:${containerPort('temporal', clusterService('temporal').ports.frontend)}`;

describe('docker-compose.yml runs the services of `mailmend cluster`', () => {
  test('every cluster service has a compose service, but those listed as cluster-only', () => {
    const missing = topology.filter((spec) => !compose.has(spec.name) && !(spec.name in ONLY_IN_CLUSTER));
    expect(missing.map((spec) => spec.name)).toEqual([]);
    const staleExemptions = Object.keys(ONLY_IN_CLUSTER).filter(
      (name) => compose.has(name) || !topology.some((spec) => spec.name === name),
    );
    expect(staleExemptions).toEqual([]);
  });

  test('every compose service is a cluster service or one of its one-shots', () => {
    const unexplained = [...compose.keys()].filter(
      (name) => !topology.some((spec) => spec.name === name) && !(name in ONE_SHOTS),
    );
    expect(unexplained).toEqual([]);
    expect(Object.keys(ONE_SHOTS).filter((name) => !compose.has(name))).toEqual([]);
  });

  test('one-shots run once: no restart policy brings them back after they succeed', () => {
    const restarting = Object.keys(ONE_SHOTS).filter(
      (name) => !/^(no|on-failure(:\d+)?)?$/.test(service(name).restart ?? ''),
    );
    expect(restarting).toEqual([]);
  });
});

describe('docker-compose.yml pins official images of the cluster releases', () => {
  test.each([...compose.keys()])('%s runs a pinned official image', (name) => {
    const { repository, tag } = imageReference(service(name).image);
    expect(repository).toBe(ONE_SHOT_IMAGE[name] ?? OFFICIAL_IMAGE[clusterService(name).role]);
    expect(tag).toMatch(/\d+\.\d+/);
    expect(tag).not.toMatch(/latest/);
  });

  test('the Temporal server and its admin tools are the release the cluster runs', () => {
    expect(tagOf('temporal')).toBe(TEMPORAL_SERVER_VERSION);
    expect(clusterService('temporal').version).toBe(TEMPORAL_SERVER_VERSION);
    const adminTools = [...compose.values()].filter(({ image }) => image.startsWith('temporalio/admin-tools:'));
    expect(adminTools.map(({ name }) => name).sort()).toEqual(['temporal-namespace', 'temporal-schema']);
    // admin-tools tags name the server release first, then the tctl and CLI releases they bundle.
    expect(adminTools.map(({ name }) => tagOf(name).split('-')[0])).toEqual(
      adminTools.map(() => TEMPORAL_SERVER_VERSION),
    );
  });

  test('PostgreSQL is an exact release of the major the cluster runs', () => {
    expect(clusterService('postgresql').version).toBe(String(POSTGRESQL_MAJOR));
    expect(tagOf('postgresql')).toMatch(new RegExp(`^${POSTGRESQL_MAJOR}\\.\\d+(-|$)`));
  });

  test('the UI is the release whose server the cluster runs', () => {
    expect(tagOf('temporal-ui')).toBe(UI_SERVER_VERSION);
  });

  test("the mailmend containers' Node.js satisfies package.json's engines", () => {
    const { engines } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(engines.node).toMatch(/^>=\d+\.\d+\.\d+$/);
    const minimum = versionOf(engines.node);
    const tooOld = ['mailmend-build', ...mailmendProcesses.map((spec) => spec.name)].filter(
      (name) => compareVersions(versionOf(tagOf(name)), minimum) < 0,
    );
    expect(tooOld).toEqual([]);
  });
});

describe('docker-compose.yml publishes the cluster ports', () => {
  test("the frontend, UI and webhook are on the cluster's host ports, forwarded to the ports they listen on", () => {
    const temporal = service('temporal').environment;
    const ui = service('temporal-ui').environment;
    const webhook = service('webhook-a').environment;
    expect(containerPort('temporal', clusterService('temporal').ports.frontend)).toBe(
      Number(temporal.FRONTEND_GRPC_PORT),
    );
    expect(containerPort('temporal-ui', clusterService('temporal-ui').ports.http)).toBe(Number(ui.TEMPORAL_UI_PORT));
    expect(containerPort('webhook-a', clusterService('webhook-a').ports.http)).toBe(
      Number(webhook.MAILMEND_WEBHOOK_PORT),
    );
  });

  test.each([...compose.keys()])('%s publishes no host port the cluster does not use for it', (name) => {
    const clusterPorts = name in ONE_SHOTS ? [] : Object.values(clusterService(name).ports);
    const stray = service(name).ports.filter(({ published }) => !clusterPorts.includes(published));
    expect(stray).toEqual([]);
  });
});

describe('docker-compose.yml gives each mailmend process the environment the cluster does', () => {
  test.each(mailmendProcesses.map((spec) => [spec.name, spec] as const))(
    '%s has every variable the cluster sets',
    (name, spec) => {
      const environment = service(name).environment;
      expect(Object.keys(spec.env).filter((key) => !(key in environment))).toEqual([]);
    },
  );

  test.each(mailmendProcesses.map((spec) => [spec.name, spec] as const))(
    '%s reaches the same namespace and deployment through the temporal service',
    (name, spec) => {
      const { environment, mountTargets } = service(name);
      const expected: Record<string, string | undefined> = {
        TEMPORAL_ADDRESS: frontendAddress(),
        TEMPORAL_NAMESPACE: spec.env.TEMPORAL_NAMESPACE,
        MAILMEND_CONFIG: spec.env.MAILMEND_CONFIG,
      };
      if (spec.role === 'worker') expected.MAILMEND_DEPLOYMENT_NAME = spec.env.MAILMEND_DEPLOYMENT_NAME;
      if (spec.role === 'webhook') {
        // Behind a published port the webhook must listen on the container's own interface, not its loopback.
        expected.MAILMEND_WEBHOOK_HOST = '0.0.0.0';
        expected.MAILMEND_WEBHOOK_PORT = String(containerPort(name, spec.ports.http));
      }
      const compared = Object.fromEntries(Object.keys(expected).map((key) => [key, environment[key]]));
      expect(compared).toEqual(expected);
      expect(mountTargets).toContain(path.posix.dirname(CONFIG_FILE));
    },
  );

  test('the UI connects to the temporal service frontend', () => {
    expect(Object.keys(clusterService('temporal-ui').env)).toEqual(['TEMPORAL_ADDRESS']);
    expect(service('temporal-ui').environment.TEMPORAL_ADDRESS).toBe(frontendAddress());
  });

  test("the namespace one-shot creates the workers' namespace with every incident search attribute", () => {
    const environment = service('temporal-namespace').environment;
    expect(environment.TEMPORAL_ADDRESS).toBe(frontendAddress());
    expect(environment.TEMPORAL_NAMESPACE).toBe(clusterService('worker-a').env.TEMPORAL_NAMESPACE);
    expect(environment.INCIDENT_SEARCH_ATTRIBUTES?.trim().split(/\s+/)).toEqual([...INCIDENT_SEARCH_ATTRIBUTES]);
    expect(service('temporal-namespace').command).toMatch(/temporal operator search-attribute create/);
  });
});

describe("docker-compose.yml uses the cluster's database names and role", () => {
  test('PostgreSQL creates the role Temporal logs in as, and says when it is ready', () => {
    const { environment, healthcheck } = service('postgresql');
    expect(environment).toMatchObject({
      POSTGRES_USER: TEMPORAL_DATABASE.user,
      POSTGRES_PASSWORD: TEMPORAL_DATABASE.password,
    });
    expect(healthcheck?.join(' ')).toMatch(/pg_isready/);
  });

  test('the Temporal server stores its history and visibility in the databases the cluster uses', () => {
    expect(service('temporal').environment).toMatchObject({
      DB: TEMPORAL_DATABASE.plugin,
      POSTGRES_SEEDS: databaseService,
      POSTGRES_USER: TEMPORAL_DATABASE.user,
      POSTGRES_PWD: TEMPORAL_DATABASE.password,
      DBNAME: TEMPORAL_DATABASE.main,
      VISIBILITY_DBNAME: TEMPORAL_DATABASE.visibility,
    });
  });

  test('the schema one-shot creates and migrates those databases on the same server', () => {
    const { environment, command } = service('temporal-schema');
    expect(environment).toMatchObject({
      SQL_PLUGIN: TEMPORAL_DATABASE.plugin,
      SQL_HOST: databaseService,
      SQL_PORT: service('temporal').environment.DB_PORT,
      SQL_USER: TEMPORAL_DATABASE.user,
      SQL_PASSWORD: TEMPORAL_DATABASE.password,
      DBNAME: TEMPORAL_DATABASE.main,
      VISIBILITY_DBNAME: TEMPORAL_DATABASE.visibility,
    });
    for (const step of ['create-database', 'setup-schema', 'update-schema', '/etc/temporal/schema/postgresql/v12/']) {
      expect(command).toContain(step);
    }
  });
});

describe('docker-compose.yml starts services in the order the cluster does', () => {
  test.each(shared.map((spec) => [spec.name, spec] as const))(
    '%s waits for the services the cluster starts before it to be healthy',
    (name, spec) => {
      const { dependsOn } = service(name);
      const awaited = Object.fromEntries(spec.dependsOn.map((dependency) => [dependency, dependsOn[dependency]]));
      expect(awaited).toEqual(Object.fromEntries(spec.dependsOn.map((dependency) => [dependency, 'service_healthy'])));
    },
  );

  test('the server waits for its schema, and the mailmend processes for the namespace and the build', () => {
    const oneShotsAwaited = (name: string): string[] =>
      Object.entries(service(name).dependsOn)
        .filter(([dependency, condition]) => dependency in ONE_SHOTS && condition === 'service_completed_successfully')
        .map(([dependency]) => dependency)
        .sort();
    expect(oneShotsAwaited('temporal')).toEqual(['temporal-schema']);
    for (const { name } of mailmendProcesses) {
      expect({ name, awaits: oneShotsAwaited(name) }).toEqual({
        name,
        awaits: ['mailmend-build', 'temporal-namespace'],
      });
    }
  });

  test.each([...compose.keys()])('%s waits only for services that exist and can report what it waits for', (name) => {
    for (const [dependency, condition] of Object.entries(service(name).dependsOn)) {
      expect({ dependency, exists: compose.has(dependency) }).toEqual({ dependency, exists: true });
      if (condition === 'service_healthy') {
        expect({ dependency, healthcheck: service(dependency).healthcheck?.length }).toEqual({
          dependency,
          healthcheck: expect.any(Number) as unknown,
        });
      }
      if (condition === 'service_completed_successfully') {
        expect({ dependency, oneShot: dependency in ONE_SHOTS }).toEqual({ dependency, oneShot: true });
      }
    }
  });
});
