import { parseConfig, type LoadedConfig } from '../config/load';

/** Who is mailed: one address per audience, so a notice's recipient names its audience. */
const AUDIENCE_ADDRESSES = {
  itTeam: 'ops@bench.test',
  management: 'mgmt@bench.test',
  users: 'users@bench.test',
} as const;

export const BENCH_APPROVERS = ['alice', 'bob'];

export interface BenchConfigOptions {
  /** The storm's server entry: the lab's (SSH, host key, canary) or one on a closed port. */
  stormServer: Record<string, unknown>;
  /** Servers that only ever refuse connections: the fan-out's and the batch's. */
  closedPortServerIds: string[];
  closedPort: number;
  inboxPort: number;
  reportsDir: string;
}

/**
 * One config for the whole run, as an operator's mailmend.yaml would hold it: the production defaults (policies,
 * collapse window, signal timeout), every audience mailed through the fallback relay, which is the bench's inbox.
 */
export function benchConfig(options: BenchConfigOptions): LoadedConfig {
  return parseConfig(benchConfigDocument(options), 'bench', {}, process.cwd());
}

/** The same config as the document a mailmend.yaml holds, for processes that load it from a file. */
export function benchConfigDocument(options: BenchConfigOptions): Record<string, unknown> {
  const closedPortServers = options.closedPortServerIds.map((id) => closedPortServer(id, options.closedPort));
  return {
    servers: [options.stormServer, ...closedPortServers],
    fallbackRelay: { host: '127.0.0.1', port: options.inboxPort, from: 'mailmend@bench.test' },
    audiences: {
      itTeam: { channels: [{ name: 'ops', type: 'email', to: [AUDIENCE_ADDRESSES.itTeam] }] },
      management: { channels: [{ name: 'mgmt', type: 'email', to: [AUDIENCE_ADDRESSES.management] }] },
      users: { channels: [{ name: 'users', type: 'email', to: [AUDIENCE_ADDRESSES.users] }] },
    },
    approvers: BENCH_APPROVERS,
    reportsDir: options.reportsDir,
  };
}

/** A server entry on a port nothing listens on: every probe is refused at once. */
export function closedPortServer(id: string, closedPort: number): Record<string, unknown> {
  return { id, smtp: { host: '127.0.0.1', port: closedPort }, imap: { host: '127.0.0.1', port: closedPort } };
}
