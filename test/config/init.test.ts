import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runMailmend } from '../../app/mailmend';
import { renderInitConfig, serverIdFor } from '../../app/init-config-text';
import {
  directories,
  dovecotConfigsOfMasters,
  nearestDovecotConfig,
  regularFiles,
  settingValues,
} from '../../app/init-host-detection';
import { knownGoodCopies } from '../../app/init-known-good';
import { parseSshLogin, presentedHostKey, sameFingerprint } from '../../app/init-host-key';
import { sshFingerprint } from '../../activities/ssh';
import type { CliDeps } from '../../client/cli/program';
import { loadConfigFile } from '../../config/load';

function cli(): { deps: CliDeps; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    deps: {
      connect: () => Promise.reject(new Error('init never needs Temporal')),
      stdout: (text) => (out += text),
      stderr: (text) => (err += text),
    },
    out: () => out,
    err: () => err,
  };
}

describe('mailmend init without --ssh', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-init-'));
  const file = path.join(dir, 'mailmend.yaml');

  test('writes a commented config that loads as it is, with the placeholders marked', async () => {
    const { deps, out } = cli();

    expect(await runMailmend(['init', '--path', file], deps)).toBe(0);

    expect(out()).toContain(`Wrote ${file}`);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/FILL IN/);
    expect(text).toMatch(/^locale: en/m);
    expect(text).toMatch(/^timeZone: UTC/m);
    expect(text).toMatch(/# approvalsRequired: \{ low: 1, medium: 1, high: 2 \}/);
    const { config } = loadConfigFile(file, {});
    expect(config.servers.map((server) => server.id)).toEqual(['mx1']);
    expect(config.servers[0]?.ssh).toBeUndefined();
    expect(config.audiences.itTeam.channels[0]).toMatchObject({ type: 'email', to: ['mail-ops@example.com'] });
  });

  test('never replaces an existing file without --force, and says so', async () => {
    writeFileSync(file, 'mine: true\n');
    const { deps, err } = cli();

    expect(await runMailmend(['init', '--path', file], deps)).toBe(1);

    expect(err()).toBe(`mailmend: ${file} already exists; nothing was changed (--force replaces it)\n`);
    expect(readFileSync(file, 'utf8')).toBe('mine: true\n');
    expect(await runMailmend(['init', '--path', file, '--force'], cli().deps)).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^# mailmend configuration/);
  });

  test('the config with the host facts filled in loads too', () => {
    const identity = path.join(dir, 'id_ed25519');
    writeFileSync(identity, 'key material\n');
    const configFile = path.join(dir, 'with-ssh.yaml');
    writeFileSync(
      configFile,
      renderInitConfig({
        login: { user: 'root', host: 'mx1.example.org', port: 2222 },
        hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOn0',
        identityFile: 'id_ed25519',
        knownGoodDir: '/var/lib/mailmend/known-good',
        detected: {
          postfixConfigDir: '/etc/postfix-out',
          postfixQueueDir: '/var/spool/postfix-out',
          postfixTls: { certFile: '/etc/ssl/mail.pem', keyFile: '/etc/ssl/mail.key' },
          dovecotConfig: '/etc/dovecot/dovecot.conf',
          dovecotCandidates: ['/etc/dovecot/dovecot.conf'],
          dovecotTls: {},
          logFiles: ['/var/log/mail.log', "/var/log/it's here.log"],
          mailDirs: ['/srv/mail'],
        },
      }),
    );
    const server = loadConfigFile(configFile, {}).config.servers[0];
    expect(server?.ssh).toEqual({
      host: 'mx1.example.org',
      port: 2222,
      user: 'root',
      hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOn0',
      privateKey: { file: 'id_ed25519' },
    });
    expect(server?.host).toMatchObject({
      postfixConfigDir: '/etc/postfix-out',
      knownGoodDir: '/var/lib/mailmend/known-good',
      logFiles: ['/var/log/mail.log', "/var/log/it's here.log"],
      mailDirs: ['/srv/mail'],
    });
    expect(readFileSync(configFile, 'utf8')).toContain('# found on the host: Postfix queue: /var/spool/postfix-out');
  });
});

describe('init parsing', () => {
  test('--ssh takes user@host, a port, and a bracketed IPv6 address', () => {
    expect(parseSshLogin('root@mx1.example.com')).toEqual({ user: 'root', host: 'mx1.example.com', port: 22 });
    expect(parseSshLogin('ops@10.0.0.5:2222')).toEqual({ user: 'ops', host: '10.0.0.5', port: 2222 });
    expect(parseSshLogin('root@[2001:db8::25]:22')).toEqual({ user: 'root', host: '2001:db8::25', port: 22 });
    for (const bad of ['mx1.example.com', 'root@', 'root@mx1:0', 'root@mx1:99999', 'a@b@c']) {
      expect(() => parseSshLogin(bad)).toThrow('--ssh must be user@host or user@host:port');
    }
  });

  test('a host key blob gives the pinned form and the fingerprint ssh-keygen prints', () => {
    const base64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIBR4c0s0ddK2KhxIGfBHWDjdySyCmPTJ5HVSeY+h5Aa2';
    const blob = Buffer.from(base64, 'base64');
    expect(presentedHostKey(blob)).toEqual({ pinned: `ssh-ed25519 ${base64}`, fingerprint: sshFingerprint(blob) });
    expect(() => presentedHostKey(Buffer.from('not a key'))).toThrow('not an SSH public key');
    expect(sameFingerprint('SHA256:abc', 'SHA256:abc')).toBe(true);
    expect(sameFingerprint('abc=', 'SHA256:abc')).toBe(true);
    expect(sameFingerprint('SHA256:abd', 'SHA256:abc')).toBe(false);
    expect(sameFingerprint('', 'SHA256:')).toBe(false);
  });

  test('postconf and doveconf values keep their order and skip the tools’ warnings', () => {
    expect(
      settingValues('postconf: warning: /etc/postfix/main.cf: unused parameter: x=1\n/etc/ssl/a.pem\n\n', 'postconf'),
    ).toEqual(['/etc/ssl/a.pem', '', '']);
  });

  test('running Dovecot masters name their configs; the one beside Postfix wins', () => {
    const pgrep = [
      '811 /usr/sbin/dovecot',
      '4242 /usr/sbin/dovecot -c /tmp/lab-a/dovecot/dovecot.conf',
      '4343 /usr/sbin/dovecot -F -c /tmp/lab-b/dovecot/dovecot.conf',
      '',
    ].join('\n');
    const configs = dovecotConfigsOfMasters(pgrep);
    expect(configs).toEqual([
      '/etc/dovecot/dovecot.conf',
      '/tmp/lab-a/dovecot/dovecot.conf',
      '/tmp/lab-b/dovecot/dovecot.conf',
    ]);
    expect(nearestDovecotConfig(configs, '/tmp/lab-b/postfix')).toBe('/tmp/lab-b/dovecot/dovecot.conf');
    expect(nearestDovecotConfig(configs, '/etc/postfix')).toBe('/etc/dovecot/dovecot.conf');
    expect(nearestDovecotConfig([], '/etc/postfix')).toBeUndefined();
  });

  test('stat output separates files from directories and missing paths', () => {
    const stat = [
      'regular file|/var/log/mail.log',
      'regular empty file|/tmp/lab/log/dovecot.log',
      "stat: cannot statx '/var/log/maillog': No such file or directory",
      'directory|/var/mail',
    ].join('\n');
    expect(regularFiles(stat)).toEqual(['/var/log/mail.log', '/tmp/lab/log/dovecot.log']);
    expect(directories(stat)).toEqual(['/var/mail']);
  });

  test('known-good copies are laid out as the catalog restores them, and server ids come from host names', () => {
    expect(
      knownGoodCopies({ postfixConfigDir: '/etc/postfix', dovecotConfig: '/etc/dovecot/dovecot.conf' }, '/kg'),
    ).toEqual([
      { from: '/etc/postfix/main.cf', to: '/kg/postfix/main.cf' },
      { from: '/etc/postfix/master.cf', to: '/kg/postfix/master.cf' },
      { from: '/etc/dovecot/dovecot.conf', to: '/kg/dovecot/dovecot.conf' },
    ]);
    expect(serverIdFor('mx1.example.com')).toBe('mx1');
    expect(serverIdFor('127.0.0.1')).toBe('127.0.0.1');
    expect(serverIdFor('2001:db8::25')).toBe('2001-db8--25');
  });
});
