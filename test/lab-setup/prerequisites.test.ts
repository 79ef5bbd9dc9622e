import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LAB_INSTALL_COMMAND, LabPrerequisiteError, findLabPrerequisites, requireLabTools } from '../../lab';
import { ensurePrivilegeSeparationDir } from '../../lab/sshd';

describe('lab prerequisites', () => {
  let emptyDir: string;
  beforeAll(async () => {
    emptyDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-lab-prereq-'));
  });
  afterAll(async () => {
    await rm(emptyDir, { recursive: true, force: true });
  });

  test('without any of the programs, the error names every Debian package and the apt-get line', () => {
    const search = { searchDirs: [emptyDir], dovecotLibexecDir: emptyDir };
    expect(findLabPrerequisites(search).missingPackages).toEqual([
      'postfix',
      'dovecot-core',
      'openssh-server',
      'openssh-client',
      'openssl',
      'dovecot-imapd',
    ]);
    let thrown: unknown;
    try {
      requireLabTools(search);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LabPrerequisiteError);
    const error = thrown as LabPrerequisiteError;
    expect(error.missingPackages).toContain('dovecot-imapd');
    expect(error.message).toContain('postfix, dovecot-core, openssh-server, openssh-client, openssl, dovecot-imapd');
    expect(error.message).toContain(LAB_INSTALL_COMMAND);
    expect(LAB_INSTALL_COMMAND).toBe('apt-get install -y postfix dovecot-imapd openssh-server openssl');
  });

  test('with only sshd missing, only openssh-server is named', async () => {
    const programs = [
      'postfix',
      'postconf',
      'postqueue',
      'dovecot',
      'doveadm',
      'doveconf',
      'ssh-keygen',
      'openssl',
      'imap',
    ];
    for (const program of programs) {
      await writeFile(path.join(emptyDir, program), '#!/bin/sh\n');
      await chmod(path.join(emptyDir, program), 0o755);
    }
    const report = findLabPrerequisites({ searchDirs: [emptyDir], dovecotLibexecDir: emptyDir });
    expect(report).toMatchObject({ missingPrograms: ['sshd'], missingPackages: ['openssh-server'] });
  });
});

describe("sshd's privilege-separation directory", () => {
  test('is created with mode 0755 where it is missing, as on a machine where sshd never ran', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'mailmend-privsep-'));
    const directory = path.join(parent, 'run', 'sshd');
    try {
      await ensurePrivilegeSeparationDir(directory);
      const created = await stat(directory);
      expect(created.isDirectory()).toBe(true);
      expect(created.mode & 0o777).toBe(0o755);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test("an existing directory is the host's and is left as it is", async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'mailmend-privsep-'));
    try {
      await chmod(directory, 0o711);
      await ensurePrivilegeSeparationDir(directory);
      expect((await stat(directory)).mode & 0o777).toBe(0o711);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
