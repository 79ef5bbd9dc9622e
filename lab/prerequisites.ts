import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The one line that installs everything the lab runs, on Debian and Ubuntu. */
export const LAB_INSTALL_COMMAND = 'apt-get install -y postfix dovecot-imapd openssh-server openssl';

/** Each program the lab runs and the Debian package that ships it. */
const LAB_PROGRAMS = {
  postfix: 'postfix',
  postconf: 'postfix',
  postqueue: 'postfix',
  dovecot: 'dovecot-core',
  doveadm: 'dovecot-core',
  doveconf: 'dovecot-core',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  openssl: 'openssl',
} as const;

type LabProgram = keyof typeof LAB_PROGRAMS;
/** Absolute paths of the programs the lab runs. */
export type LabTools = Record<LabProgram, string>;

/** Dovecot's IMAP server is not on PATH; without it Dovecot starts but cannot serve a login. */
const DOVECOT_IMAP = { name: 'imap', package: 'dovecot-imapd' } as const;

export interface PrerequisiteSearch {
  /** Directories searched for the programs. Default: `$PATH` plus the sbin directories, which root's PATH may lack. */
  searchDirs: string[];
  /** Where Dovecot keeps its protocol binaries. Default `/usr/lib/dovecot`. */
  dovecotLibexecDir: string;
}

interface PrerequisiteReport {
  tools: Partial<LabTools>;
  missingPrograms: string[];
  /** Debian packages that ship the missing programs, without duplicates. */
  missingPackages: string[];
}

/** Some of the programs the lab runs are not installed. */
export class LabPrerequisiteError extends Error {
  readonly installCommand = LAB_INSTALL_COMMAND;

  constructor(
    readonly missingPackages: string[],
    readonly missingPrograms: string[],
  ) {
    super(
      `mailmend lab needs programs that are not installed: ${missingPrograms.join(', ')} ` +
        `(Debian packages ${missingPackages.join(', ')}). Install them with:\n  ${LAB_INSTALL_COMMAND}`,
    );
    this.name = 'LabPrerequisiteError';
  }
}

function defaultPrerequisiteSearch(env: NodeJS.ProcessEnv = process.env): PrerequisiteSearch {
  const fromPath = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const sbin = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return { searchDirs: [...new Set([...fromPath, ...sbin])], dovecotLibexecDir: '/usr/lib/dovecot' };
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks for every program the lab needs and names the Debian package of each one missing. */
export function findLabPrerequisites(search: PrerequisiteSearch = defaultPrerequisiteSearch()): PrerequisiteReport {
  const tools: Partial<LabTools> = {};
  const missingPrograms: string[] = [];
  const missingPackages = new Set<string>();
  for (const [program, debianPackage] of Object.entries(LAB_PROGRAMS) as [LabProgram, string][]) {
    const found = search.searchDirs.map((dir) => path.join(dir, program)).find(executable);
    if (found) {
      tools[program] = found;
    } else {
      missingPrograms.push(program);
      missingPackages.add(debianPackage);
    }
  }
  if (!executable(path.join(search.dovecotLibexecDir, DOVECOT_IMAP.name))) {
    missingPrograms.push(path.join(search.dovecotLibexecDir, DOVECOT_IMAP.name));
    missingPackages.add(DOVECOT_IMAP.package);
  }
  return { tools, missingPrograms, missingPackages: [...missingPackages] };
}

/**
 * The lab's programs by absolute path, or a `LabPrerequisiteError` naming the packages to install.
 *
 * @example const tools = requireLabTools(); // tools.postfix === '/usr/sbin/postfix'
 */
export function requireLabTools(search?: PrerequisiteSearch): LabTools {
  const report = findLabPrerequisites(search);
  if (report.missingPrograms.length > 0) throw new LabPrerequisiteError(report.missingPackages, report.missingPrograms);
  return report.tools as LabTools;
}

/** Runs `apt-get install` with the terminal attached, so the operator sees apt's progress and questions. */
export function installLabPrerequisites(): Promise<number> {
  const [command, ...args] = LAB_INSTALL_COMMAND.split(' ') as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
