import { ApplicationFailure } from '@temporalio/common';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';

/** The server an incident is about; an id the config no longer has fails for good, since retrying cannot help. */
export function requireServer(servers: ReadonlyMap<string, ServerConfig>, serverId: string): ServerConfig {
  const server = servers.get(serverId);
  if (!server) {
    throw ApplicationFailure.create({
      type: FailureType.UnknownServer,
      nonRetryable: true,
      message: `no mail server "${serverId}" in the config`,
    });
  }
  return server;
}
