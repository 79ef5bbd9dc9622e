import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { runOrThrow, waitUntil } from './processes';

/** Mount points as /proc/self/mountinfo lists them; spaces and other bytes there are octal escapes such as `\040`. */
async function mountPoints(): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map((field) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

export async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountPoints()).includes(path.resolve(dir));
}

/**
 * Moves a directory's contents onto a new tmpfs of `sizeMiB` mounted over it, with the directory's own owner and mode,
 * as an admin moves a spool onto a small partition of its own. What was there stays underneath, hidden.
 */
export async function moveOntoTmpfs(dir: string, sizeMiB: number, stagingDir: string): Promise<void> {
  const { mode, uid, gid } = await stat(dir);
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  await runOrThrow(['cp', '-a', `${dir}/.`, stagingDir], `copying ${dir} aside`);
  const options = `size=${sizeMiB}m,mode=${(mode & 0o7777).toString(8).padStart(4, '0')},uid=${uid},gid=${gid}`;
  await runOrThrow(['mount', '-t', 'tmpfs', '-o', options, 'mailmend-lab', dir], `mounting a tmpfs on ${dir}`);
  await runOrThrow(['cp', '-a', `${stagingDir}/.`, dir], `copying ${dir} onto its tmpfs`);
  await rm(stagingDir, { recursive: true, force: true });
}

/**
 * Undoes `moveOntoTmpfs`: whatever the tmpfs holds now, but `dropped` (paths relative to `dir`), replaces the hidden
 * contents underneath, and the tmpfs goes away. Nothing happens when no tmpfs is mounted on `dir`.
 */
export async function moveOffTmpfs(dir: string, stagingDir: string, dropped: string[]): Promise<boolean> {
  if (!(await isMountPoint(dir))) return false;
  for (const relative of dropped) await rm(path.join(dir, relative), { recursive: true, force: true });
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  await runOrThrow(['cp', '-a', `${dir}/.`, stagingDir], `copying ${dir} off its tmpfs`);
  // An IMAP process that just logged out may still hold a file open for a moment.
  await waitUntil(`${dir} to unmount`, async () => {
    await runOrThrow(['umount', dir], `unmounting ${dir}`).catch(() => undefined);
    return !(await isMountPoint(dir));
  });
  for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
  await runOrThrow(['cp', '-a', `${stagingDir}/.`, dir], `copying ${dir} back`);
  await rm(stagingDir, { recursive: true, force: true });
  return true;
}

/** Unmounts every tmpfs under `root` without keeping its contents, for `lab down`; returns what was unmounted. */
export async function unmountAllUnder(root: string): Promise<string[]> {
  const prefix = `${path.resolve(root)}/`;
  const mounted = (await mountPoints()).filter((point) => point.startsWith(prefix)).reverse();
  for (const point of mounted) await runOrThrow(['umount', '--lazy', point], `unmounting ${point}`);
  return mounted;
}
