import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { clusterLayout, clusterPorts, CLUSTER_PORT_SPAN } from '../../cluster';
import { writeServerConfig } from '../../cluster/temporal-server';
import { cachedServerBinaries } from '../../platform/temporal/server/resolve';

/** Every `port`, `grpcPort`, `membershipPort`, `httpPort` and `host:port` address in a YAML document. */
function portsIn(node: unknown, found: number[] = []): number[] {
  if (Array.isArray(node)) node.forEach((item) => portsIn(item, found));
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (/port$/i.test(key) && typeof value === 'number') found.push(value);
      else if (typeof value === 'string' && /^[\w.-]+:\d+$/.test(value)) found.push(Number(value.split(':')[1]));
      else portsIn(value, found);
    }
  }
  return found;
}

/** The parts of the server config this test reads. */
interface RenderedConfig {
  global: { pprof: { port: number } };
  persistence: { datastores: Record<string, { sql: Record<string, unknown> }> };
  services: Record<string, { rpc: Record<string, unknown> }>;
  dynamicConfigClient: { filepath: string };
}

describe("the cluster's Temporal server config", () => {
  test("is the release's PostgreSQL config with every port the cluster's own, and pprof off", async () => {
    const binaries = cachedServerBinaries(process.env);
    const layout = clusterLayout(await mkdtemp(path.join(os.tmpdir(), 'mailmend-cluster-config-')));
    const base = 30_000;
    const ports = clusterPorts(base);
    await writeServerConfig(layout, binaries, ports);
    const config = parseYaml(await readFile(layout.temporalConfigFile, 'utf8')) as RenderedConfig;

    const used = portsIn(config).filter((port) => port !== 0);
    // Nothing is left at the template's defaults (7233, 5432, 8000, ...), which the dev server or a local
    // PostgreSQL may hold: every port is one of the cluster's.
    for (const port of used) {
      expect(port).toBeGreaterThanOrEqual(base);
      expect(port).toBeLessThan(base + CLUSTER_PORT_SPAN);
    }
    const listening = used.filter((port) => port !== ports.postgresql && port !== ports.frontend);
    expect(new Set(listening).size).toBe(listening.length);
    expect(config.global.pprof.port).toBe(0);
    expect(config.persistence.datastores['postgres-default']?.sql).toMatchObject({
      connectAddr: `127.0.0.1:${ports.postgresql}`,
      databaseName: 'temporal',
      user: 'temporal',
    });
    expect(config.persistence.datastores['postgres-visibility']?.sql.databaseName).toBe('temporal_visibility');
    expect(config.services.frontend?.rpc).toMatchObject({ grpcPort: ports.frontend, httpPort: ports.frontendHttp });
    expect(config.dynamicConfigClient.filepath).toBe(layout.dynamicConfigFile);
  });
});
