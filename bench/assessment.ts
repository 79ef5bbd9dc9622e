import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { createProbeActivities } from '../activities/probes';
import { SecretResolver } from '../config/secrets';
import { labDown, labUp, type LabInfo } from '../lab';
import { freeLoopbackPorts } from '../platform/loopback';
import { createMailHostAccess } from '../worker/mail-host-access';
import type { ProbeReport } from '../workflows/messages';

const RUNS = Number(process.env.BENCH_ASSESSMENTS ?? 10);
const PROBE_TIMEOUT_MS = 5_000;
/** The budget for step 1 on a healthy host. */
const TARGET_MS = 10_000;

/**
 * Step 1's wall time against a real lab (Postfix, Dovecot, sshd): every probe, the delivery to the canary and the
 * wait for its token, the TLS checks and the deferred queue over SSH. Needs root. Run with `npm run bench:assessment`.
 */
async function main(): Promise<void> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-bench-lab-'));
  try {
    const [smtpPort, imapPort, sshPort, relayPort] = (await freeLoopbackPorts(4)) as [number, number, number, number];
    const lab = await labUp({ stateDir, smtpPort, imapPort, sshPort, relayPort, serverId: 'bench-lab' });
    try {
      printTimes(await measureAssessments(lab));
    } finally {
      await labDown(stateDir);
    }
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** One assessment at a time, as the workflow runs them; a run that finds the healthy lab unhealthy stops the bench. */
async function measureAssessments(lab: LabInfo): Promise<number[]> {
  const { probeServer } = createProbeActivities({
    servers: new Map([[lab.server.id, lab.server]]),
    probeTimeoutMs: PROBE_TIMEOUT_MS,
    mailHost: createMailHostAccess(new SecretResolver(process.env, lab.stateDir)),
    logger: pino({ level: 'warn' }),
  });
  const times: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const started = performance.now();
    const report = await probeServer({
      context: { incidentId: `bench-assessment-${run}`, serverId: lab.server.id, step: 'assessment' },
    });
    times.push(Math.round(performance.now() - started));
    const failing = failingChecks(report);
    if (failing.length > 0) throw new Error(`run ${run}: the healthy lab failed ${failing.join('; ')}`);
  }
  return times;
}

function failingChecks(report: ProbeReport): string[] {
  const { tcpSmtp, smtp, imap, imapLogin, deferredQueue, smtpDelivery, smtpTls, imapTls } = report;
  return Object.entries({ tcpSmtp, smtp, imap, imapLogin, deferredQueue, smtpDelivery, smtpTls, imapTls })
    .filter(([, check]) => check === undefined || !check.ok)
    .map(([name, check]) => `${name}: ${check?.detail ?? 'missing'}`);
}

function printTimes(times: number[]): void {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
  console.log(`probeServer against a healthy lab, ${sorted.length} assessments (target under ${TARGET_MS} ms):`);
  console.log(`  min ${sorted[0]} ms, median ${median} ms, max ${sorted.at(-1)} ms`);
  if ((sorted.at(-1) ?? Infinity) >= TARGET_MS) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
