import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { formatMs } from './figures';
import type { LoadJob, LoadOutcome } from './load-generator';

/** A load run as the figures report it: latency percentiles over every POST, and what went wrong. */
export interface LoadReport {
  requests: number;
  firstPostAt: number;
  wallMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** POSTs that failed or were answered with anything but 2xx. */
  errors: number;
  statusCounts: Record<string, number>;
  errorSamples: string[];
  /** CPU seconds the load generator used, start-up included. */
  cpuSeconds: number;
}

/**
 * POSTs each body (an Alertmanager webhook payload) to the webhook, `concurrency` at a time, from a child process
 * of its own, and reports latency as the sender saw it: from the request going out to the whole answer arriving.
 *
 * @example const report = await postConcurrently(`${url}/alerts/alertmanager`, bodies, 50); // report.p99Ms
 */
export async function postConcurrently(url: string, bodies: unknown[], concurrency: number): Promise<LoadReport> {
  const child = fork(path.join(__dirname, 'load-generator.ts'), { execArgv: ['--import', 'tsx'] });
  const exited = once(child, 'exit');
  try {
    const job: LoadJob = { url, bodies: bodies.map((body) => JSON.stringify(body)), concurrency };
    child.send(job);
    const [outcome] = (await Promise.race([
      once(child, 'message'),
      exited.then(([code]) => Promise.reject(new Error(`the load generator exited with ${String(code)}`))),
    ])) as [LoadOutcome];
    return summarize(outcome);
  } finally {
    if (child.exitCode === null) child.kill();
    await exited;
  }
}

function summarize(outcome: LoadOutcome): LoadReport {
  const sorted = [...outcome.latenciesMs].sort((a, b) => a - b);
  const statusCounts: Record<string, number> = {};
  for (const status of outcome.statuses) {
    const key = status === 0 ? 'failed' : String(status);
    statusCounts[key] = (statusCounts[key] ?? 0) + 1;
  }
  return {
    requests: outcome.statuses.length,
    firstPostAt: outcome.firstPostAt,
    wallMs: outcome.wallMs,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? NaN,
    errors: outcome.statuses.filter((status) => status < 200 || status >= 300).length,
    statusCounts,
    errorSamples: outcome.errorSamples,
    cpuSeconds: outcome.cpuSeconds,
  };
}

/** The nearest-rank percentile of an ascending list: `fraction` 0.99 is the value 99 % of samples do not exceed. */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? NaN;
}

/** `202 x9998, 503 x2`: every status seen, for the figure's detail line. */
export function describeStatuses(report: LoadReport): string {
  return Object.entries(report.statusCounts)
    .map(([status, count]) => `${status} x${count}`)
    .join(', ');
}

/** `p50 12.0 ms, p99 48.1 ms, max 61.0 ms`: the latencies the figures print. */
export function describeLatency(report: LoadReport): string {
  return `p50 ${formatMs(report.p50Ms)}, p99 ${formatMs(report.p99Ms)}, max ${formatMs(report.maxMs)}`;
}
