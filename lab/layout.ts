import path from 'node:path';

export const LAB_DOMAIN = 'lab.test';
export const LAB_CANARY = `canary@${LAB_DOMAIN}`;
/** Owns the lab's Maildirs; Postfix's virtual(8) and Dovecot's imap run as this user. */
export const LAB_MAIL_USER = 'mailmend-lab';

export interface LabPorts {
  smtp: number;
  imap: number;
  ssh: number;
  relay: number;
}

export const DEFAULT_LAB_PORTS: LabPorts = { smtp: 2525, imap: 1143, ssh: 2222, relay: 2526 };

/** What `labUp` chose, kept in the state dir so later commands find the same ports. */
export interface LabSettings {
  serverId: string;
  ports: LabPorts;
}

/** Every path the lab uses, all under one state directory. */
export interface LabLayout {
  stateDir: string;
  settingsFile: string;
  logDir: string;
  postfixLog: string;
  dovecotLog: string;
  sshdLog: string;
  relayLog: string;
  postfixConfigDir: string;
  postfixMainCf: string;
  postfixMasterCf: string;
  virtualMailboxMap: string;
  postfixQueueDir: string;
  postfixMasterPidFile: string;
  postfixDataDir: string;
  mailDir: string;
  canaryMaildir: string;
  dovecotDir: string;
  dovecotConfig: string;
  dovecotUsersFile: string;
  dovecotBaseDir: string;
  dovecotStateDir: string;
  dovecotMasterPidFile: string;
  sshDir: string;
  sshdConfig: string;
  sshdPidFile: string;
  sshHostKey: string;
  sshClientKey: string;
  sshAuthorizedKeys: string;
  /** The lab's host key for `ssh -o UserKnownHostsFile=…`. */
  sshKnownHosts: string;
  relayPidFile: string;
  secretsDir: string;
  canaryPasswordFile: string;
  knownGoodDir: string;
  knownGoodPostfixDir: string;
  knownGoodDovecotDir: string;
  fragmentFile: string;
  /** The lab's private CA and the server certificate Postfix and Dovecot present, made with the openssl CLI. */
  tlsDir: string;
  tlsCaCert: string;
  tlsCaKey: string;
  /** The openssl config and database `openssl ca` issues the server certificates from. */
  tlsCaConfig: string;
  tlsCaDatabaseDir: string;
  tlsServerCert: string;
  tlsServerKey: string;
  knownGoodTlsDir: string;
}

/** The lab's paths under `stateDir`, made absolute because Postfix and Dovecot reject relative ones. */
export function labLayout(stateDir: string): LabLayout {
  const root = path.resolve(stateDir);
  const at = (...parts: string[]): string => path.join(root, ...parts);
  const postfixConfigDir = at('postfix');
  const postfixQueueDir = at('postfix-queue');
  const dovecotDir = at('dovecot');
  const dovecotBaseDir = at('dovecot', 'run');
  const mailDir = at('mail');
  const sshDir = at('ssh');
  const knownGoodDir = at('known-good');
  return {
    stateDir: root,
    settingsFile: at('lab.json'),
    logDir: at('log'),
    postfixLog: at('log', 'postfix.log'),
    dovecotLog: at('log', 'dovecot.log'),
    sshdLog: at('log', 'sshd.log'),
    relayLog: at('log', 'relay.log'),
    postfixConfigDir,
    postfixMainCf: path.join(postfixConfigDir, 'main.cf'),
    postfixMasterCf: path.join(postfixConfigDir, 'master.cf'),
    virtualMailboxMap: path.join(postfixConfigDir, 'vmailbox'),
    postfixQueueDir,
    postfixMasterPidFile: path.join(postfixQueueDir, 'pid', 'master.pid'),
    postfixDataDir: at('postfix-data'),
    mailDir,
    canaryMaildir: path.join(mailDir, LAB_DOMAIN, 'canary'),
    dovecotDir,
    dovecotConfig: path.join(dovecotDir, 'dovecot.conf'),
    dovecotUsersFile: path.join(dovecotDir, 'users'),
    dovecotBaseDir,
    dovecotStateDir: path.join(dovecotDir, 'state'),
    dovecotMasterPidFile: path.join(dovecotBaseDir, 'master.pid'),
    sshDir,
    sshdConfig: path.join(sshDir, 'sshd_config'),
    sshdPidFile: path.join(sshDir, 'sshd.pid'),
    sshHostKey: path.join(sshDir, 'ssh_host_ed25519_key'),
    sshClientKey: path.join(sshDir, 'mailmend_ed25519'),
    sshAuthorizedKeys: path.join(sshDir, 'authorized_keys'),
    sshKnownHosts: path.join(sshDir, 'known_hosts'),
    relayPidFile: at('relay.pid'),
    secretsDir: at('secrets'),
    canaryPasswordFile: at('secrets', 'canary-password'),
    knownGoodDir,
    knownGoodPostfixDir: path.join(knownGoodDir, 'postfix'),
    knownGoodDovecotDir: path.join(knownGoodDir, 'dovecot'),
    fragmentFile: at('mailmend-server.yaml'),
    tlsDir: at('tls'),
    tlsCaCert: at('tls', 'ca.pem'),
    tlsCaKey: at('tls', 'ca.key'),
    tlsCaConfig: at('tls', 'openssl.cnf'),
    tlsCaDatabaseDir: at('tls', 'ca-db'),
    tlsServerCert: at('tls', 'server.pem'),
    tlsServerKey: at('tls', 'server.key'),
    knownGoodTlsDir: path.join(knownGoodDir, 'tls'),
  };
}
