import { isListening } from '../lab/processes';
import { CLUSTER_PORT_SPAN } from './layout';

/** Below 32768: out of Linux's ephemeral range, and within the smallint Temporal keeps membership ports in. */
const BASE_PORT_RANGE = { from: 20_000, to: 32_767 - CLUSTER_PORT_SPAN };

/**
 * A base port whose whole span is free, chosen at random away from the default cluster's, so a second cluster (a
 * test's, the bench's) may run beside a developer's own.
 */
export async function freeClusterBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = BASE_PORT_RANGE.from + Math.floor(Math.random() * (BASE_PORT_RANGE.to - BASE_PORT_RANGE.from));
    const taken = await Promise.all(
      Array.from({ length: CLUSTER_PORT_SPAN }, (_, offset) => isListening(base + offset, undefined, 200)),
    );
    if (!taken.some(Boolean)) return base;
  }
  throw new Error(`found no ${CLUSTER_PORT_SPAN} free consecutive loopback ports for a cluster`);
}
