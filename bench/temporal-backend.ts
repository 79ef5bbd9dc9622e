import { resolveTemporalCli } from '../platform/temporal/cli/resolve';
import { startEmbeddedServer } from '../platform/temporal/dev-server';

/** The processes that make up a Temporal backend, whose CPU and memory the fan-out reports beside mailmend's. */
export interface BackendProcesses {
  /** How the detail lines name the Temporal server: `dev server`, `Temporal server`. */
  name: string;
  /** How the memory figure names its process: `Temporal dev server process`. */
  processName: string;
  pid: number | undefined;
  /** The database's processes, every one of them, when it runs apart from the server (the cluster's PostgreSQL). */
  databasePids?: () => number[];
}

/** Where the bench's worker and webhook connect, and what the figures are measured against. */
export interface TemporalBackend {
  /** `dev server`, `cluster`: the name the summaries print. */
  name: string;
  address: string;
  /** The task queue the bench's worker polls and its webhook starts incidents on; mailmend's own unless set. */
  taskQueue?: string;
  processes: BackendProcesses;
  stop(): Promise<void>;
}

/** The embedded dev server, as `npm start` runs it: the backend of a plain `npm run bench`. */
export async function startDevServerBackend(): Promise<TemporalBackend> {
  const { executable } = await resolveTemporalCli({ env: process.env, onProgress: console.error });
  const server = await startEmbeddedServer({ executable });
  return {
    name: 'dev server',
    address: server.address,
    processes: { name: 'dev server', processName: 'Temporal dev server process', pid: server.pid },
    stop: () => server.stop(),
  };
}
