import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** What the bench asks the load generator to do: POST every body to `url`, `concurrency` at a time, in order. */
export interface LoadJob {
  url: string;
  bodies: string[];
  concurrency: number;
}

/** Each POST's status (0 when the request itself failed) and latency, in the order of the bodies. */
export interface LoadOutcome {
  /** Epoch milliseconds at which the first POST went out. */
  firstPostAt: number;
  wallMs: number;
  latenciesMs: number[];
  statuses: number[];
  /** One line per failed request or non-2xx answer, at most a few, for the report. */
  errorSamples: string[];
  /** CPU seconds the load generator itself used. */
  cpuSeconds: number;
}

const ERROR_SAMPLES = 5;

/**
 * Alertmanager's side of the benchmark, run as its own process so the HTTP client's work and memory are not counted
 * as the webhook's. Takes one {@link LoadJob} over IPC, answers with a {@link LoadOutcome} and exits.
 */
process.once('message', (job: LoadJob) => {
  runJob(job).then(
    (outcome) => process.send?.(outcome, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});

async function runJob({ url, bodies, concurrency }: LoadJob): Promise<LoadOutcome> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latenciesMs = new Array<number>(bodies.length);
  const statuses = new Array<number>(bodies.length);
  const errorSamples: string[] = [];
  let next = 0;
  const firstPostAt = Date.now();
  const started = performance.now();
  const sender = async (): Promise<void> => {
    for (let index = next++; index < bodies.length; index = next++) {
      const sentAt = performance.now();
      const { status, error } = await post(agent, url, bodies[index] ?? '');
      latenciesMs[index] = performance.now() - sentAt;
      statuses[index] = status;
      if ((error || status < 200 || status >= 300) && errorSamples.length < ERROR_SAMPLES) {
        errorSamples.push(`#${index}: ${error ?? `HTTP ${status}`}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  const wallMs = performance.now() - started;
  agent.destroy();
  const { user, system } = process.cpuUsage();
  return { firstPostAt, wallMs, latenciesMs, statuses, errorSamples, cpuSeconds: (user + system) / 1e6 };
}

/** One POST, answered once the whole response body has arrived, as a sender would wait for it. */
function post(agent: http.Agent, url: string, body: string): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const answer =
            status >= 300 ? `HTTP ${status}: ${Buffer.concat(chunks).toString().slice(0, 300)}` : undefined;
          resolve(answer ? { status, error: answer } : { status });
        });
      },
    );
    request.on('error', (error) => resolve({ status: 0, error: error.message }));
    request.end(body);
  });
}
