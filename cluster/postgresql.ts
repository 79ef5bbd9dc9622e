import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { LabCommandError, livePid, runCommand, tailFile } from '../lab/processes';
import { daemonEnv } from './daemon-env';
import { assertReachable } from '../lab/state-dir';
import { LOOPBACK } from '../platform/loopback';
import { ClusterServiceError, ClusterStateError } from './errors';
import type { ClusterLayout } from './layout';
import { POSTGRESQL_MAJOR, TEMPORAL_DATABASE } from './topology';

/** The Debian package that brings initdb and pg_ctl. */
export const POSTGRESQL_PACKAGE = `postgresql-${POSTGRESQL_MAJOR}`;
/** Debian's server binaries are not on PATH; they live per major version. */
const DEBIAN_POSTGRESQL_ROOT = '/usr/lib/postgresql';
const START_TIMEOUT_S = 60;

interface PostgresqlTools {
  initdb: string;
  pgCtl: string;
  /** As root, the commands run as this user: initdb and postgres refuse to run as root. */
  runAs?: { user: string; uid: number; gid: number };
}

/** Finds Debian's PostgreSQL of the cluster's major version, or says which package to install. */
export async function findPostgresql(): Promise<PostgresqlTools> {
  const bin = path.join(DEBIAN_POSTGRESQL_ROOT, String(POSTGRESQL_MAJOR), 'bin');
  const installed = existsSync(DEBIAN_POSTGRESQL_ROOT) ? readdirSync(DEBIAN_POSTGRESQL_ROOT) : [];
  if (!existsSync(path.join(bin, 'pg_ctl'))) {
    throw new ClusterStateError(
      `the cluster runs PostgreSQL ${POSTGRESQL_MAJOR}, and ${bin}/pg_ctl does not exist` +
        (installed.length > 0 ? ` (found ${installed.join(', ')} in ${DEBIAN_POSTGRESQL_ROOT})` : '') +
        `: apt-get install ${POSTGRESQL_PACKAGE}`,
    );
  }
  const tools = { initdb: path.join(bin, 'initdb'), pgCtl: path.join(bin, 'pg_ctl') };
  if (process.getuid?.() !== 0) return tools;
  const entry = await runCommand(['getent', 'passwd', 'postgres']);
  if (entry.exitCode !== 0) {
    throw new ClusterStateError(
      `running as root, the cluster starts PostgreSQL as the postgres user, which does not exist: ` +
        `apt-get install ${POSTGRESQL_PACKAGE} creates it`,
    );
  }
  const [, , uid, gid] = entry.output.split(':');
  return { ...tools, runAs: { user: 'postgres', uid: Number(uid), gid: Number(gid) } };
}

function asOwner(tools: PostgresqlTools, argv: string[]): string[] {
  return tools.runAs ? ['runuser', '-u', tools.runAs.user, '--', ...argv] : argv;
}

async function runOrFail(tools: PostgresqlTools, argv: string[], what: string, layout: ClusterLayout): Promise<void> {
  // In its own directory, which the postgres user can enter (PostgreSQL returns to the caller's, e.g. /root, and fails),
  // and with none of the caller's environment, which may hold secrets.
  const result = await runCommand(asOwner(tools, argv), {
    timeoutMs: (START_TIMEOUT_S + 30) * 1000,
    cwd: layout.postgresqlDir,
    env: daemonEnv(),
  });
  if (result.exitCode === 0) return;
  const failure = new LabCommandError(result);
  throw new ClusterServiceError(
    'PostgreSQL',
    `${what}: ${failure.message}`,
    layout.postgresqlLog,
    await tailFile(layout.postgresqlLog),
    {
      cause: failure,
    },
  );
}

/** The data directory, created with initdb on first use: the `temporal` role owns it, trusted on loopback only. */
export async function ensureDatabaseCluster(layout: ClusterLayout, tools: PostgresqlTools): Promise<void> {
  await mkdir(layout.postgresqlSocketDir, { recursive: true });
  if (tools.runAs) {
    await assertReachable(layout.postgresqlDir, 'PostgreSQL runs as the postgres user');
    for (const dir of [layout.postgresqlDir, layout.postgresqlSocketDir]) {
      await chown(dir, tools.runAs.uid, tools.runAs.gid);
    }
  }
  if (existsSync(path.join(layout.postgresqlData, 'PG_VERSION'))) return;
  await runOrFail(
    tools,
    [
      tools.initdb,
      '-D',
      layout.postgresqlData,
      '-U',
      TEMPORAL_DATABASE.user,
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
    ],
    'initdb failed',
    layout,
  );
}

/** The postmaster's pid, from its own pid file, when that process is alive and serves this data directory. */
export function postgresqlPid(layout: ClusterLayout): Promise<number | undefined> {
  // After a reboot the pid in a stale postmaster.pid may belong to anything: its command line names the directory.
  return livePid(path.join(layout.postgresqlData, 'postmaster.pid'), layout.postgresqlData);
}

/** Starts the server on loopback only and waits until it accepts connections. */
export async function startPostgresql(layout: ClusterLayout, tools: PostgresqlTools, port: number): Promise<number> {
  const serverOptions = `-p ${port} -k ${layout.postgresqlSocketDir} -c listen_addresses=${LOOPBACK}`;
  await runOrFail(
    tools,
    [
      tools.pgCtl,
      '-D',
      layout.postgresqlData,
      '-o',
      serverOptions,
      '-l',
      layout.postgresqlLog,
      '-w',
      '-t',
      String(START_TIMEOUT_S),
      'start',
    ],
    'did not start',
    layout,
  );
  const pid = await postgresqlPid(layout);
  if (pid === undefined) {
    throw new ClusterServiceError(
      'PostgreSQL',
      'reported a start but wrote no live pid',
      layout.postgresqlLog,
      await tailFile(layout.postgresqlLog),
    );
  }
  return pid;
}

/** A fast shutdown: open transactions are rolled back, as when a database host is restarted. */
export async function stopPostgresql(layout: ClusterLayout, tools: PostgresqlTools): Promise<boolean> {
  if ((await postgresqlPid(layout)) === undefined) return false;
  await runOrFail(
    tools,
    [tools.pgCtl, '-D', layout.postgresqlData, '-m', 'fast', '-w', '-t', String(START_TIMEOUT_S), 'stop'],
    'did not stop',
    layout,
  );
  return true;
}
