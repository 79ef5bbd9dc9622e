import { readFileSync } from 'node:fs';

/** A process's resident memory now and at its peak, in MiB. */
export interface ResidentMemory {
  rssMiB: number;
  peakMiB: number;
}

/** This process: `process.memoryUsage()` now, `resourceUsage().maxRSS` (KiB) for the peak. */
export function ownResidentMemory(): ResidentMemory {
  return { rssMiB: process.memoryUsage().rss / 2 ** 20, peakMiB: process.resourceUsage().maxRSS / 1024 };
}

/** Another process, from /proc/<pid>/status (VmRSS, VmHWM); undefined where /proc cannot say. */
export function residentMemoryOf(pid: number | undefined): ResidentMemory | undefined {
  const status = readProcFile(pid, 'status');
  if (status === undefined) return undefined;
  const kib = (field: string): number | undefined => {
    const value = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
    return value === undefined ? undefined : Number(value);
  };
  const rss = kib('VmRSS');
  const peak = kib('VmHWM');
  return rss === undefined || peak === undefined ? undefined : { rssMiB: rss / 1024, peakMiB: peak / 1024 };
}

export function formatMemory(memory: ResidentMemory | undefined): string {
  return memory ? `${memory.rssMiB.toFixed(0)} MiB (peak ${memory.peakMiB.toFixed(0)} MiB)` : 'unknown';
}

/** CPU seconds (user + system, every thread) this process has used so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// Linux reports /proc/<pid>/stat times in clock ticks, 100 a second on every common build.
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds another process has used so far, from /proc/<pid>/stat; undefined where /proc cannot say. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  const stat = readProcFile(pid, 'stat');
  if (stat === undefined) return undefined;
  // utime and stime are the 12th and 13th fields after the command name, which may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds a set of processes has used so far, summed over those /proc still shows. */
export function totalCpuSecondsOf(pids: number[]): number | undefined {
  const seconds = pids.map(cpuSecondsOf).filter((value) => value !== undefined);
  return seconds.length === 0 ? undefined : seconds.reduce((sum, value) => sum + value, 0);
}

/**
 * The proportional set size of a set of processes, in MiB: pages they share are split between them, so the sum is
 * what they use together, where adding their RSS would count shared memory (PostgreSQL's buffers) once per process.
 */
export function proportionalMemoryOf(pids: number[]): number | undefined {
  const kib = pids.map((pid) => {
    const value = readProcFile(pid, 'smaps_rollup')?.match(/^Pss:\s+(\d+) kB$/m)?.[1];
    return value === undefined ? undefined : Number(value);
  });
  const known = kib.filter((value) => value !== undefined);
  return known.length === 0 ? undefined : known.reduce((sum, value) => sum + value, 0) / 1024;
}

function readProcFile(pid: number | undefined, name: string): string | undefined {
  if (pid === undefined) return undefined;
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
