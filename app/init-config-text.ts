import type { DetectedMailHost } from './init-host-detection';
import type { SshLogin } from './init-host-key';

/** What `init --ssh` learned, for the server entry of the written config. */
export interface InitServerFacts {
  login: SshLogin;
  /** `ssh-ed25519 AAAA…` as the person confirmed it. */
  hostKey: string;
  /** The private key file, as the config's `{ file: … }` reference names it. */
  identityFile: string;
  detected: DetectedMailHost;
  knownGoodDir?: string;
}

/** A YAML scalar for any string: JSON's double-quoted form is valid YAML. */
const quoted = (value: string): string => JSON.stringify(value);
const list = (values: readonly string[]): string => `[${values.map(quoted).join(', ')}]`;

/** `mx1` from `mx1.example.com`; an address stays whole. */
export function serverIdFor(host: string): string {
  const id = /^[0-9.]+$/.test(host) || host.includes(':') ? host.replace(/:/g, '-') : (host.split('.')[0] ?? host);
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) ? id : 'mx1';
}

function detectedNotes(detected: DetectedMailHost): string[] {
  const notes = [
    detected.postfixQueueDir && `Postfix queue: ${detected.postfixQueueDir}`,
    detected.postfixTls.certFile &&
      `Postfix TLS: ${detected.postfixTls.certFile}, ${detected.postfixTls.keyFile ?? '?'}`,
    detected.dovecotTls.certFile &&
      `Dovecot TLS: ${detected.dovecotTls.certFile}, ${detected.dovecotTls.keyFile ?? '?'}`,
    detected.dovecotCandidates.length > 1 && `Dovecot instances running: ${detected.dovecotCandidates.join(', ')}`,
  ].filter((note): note is string => typeof note === 'string');
  return notes.map((note) => `      # found on the host: ${note}`);
}

function hostSection(facts: InitServerFacts): string[] {
  const { detected } = facts;
  const knownGood = facts.knownGoodDir
    ? [
        `      knownGoodDir: ${quoted(facts.knownGoodDir)} # on the mail host: postfix/main.cf, postfix/master.cf, dovecot/dovecot.conf`,
      ]
    : [
        '      # knownGoodDir: /var/lib/mailmend/known-good # on the mail host; `init --save-known-good <dir>` fills it',
      ];
  return [
    '    host: # where things live on the mail host, as init found them',
    ...detectedNotes(detected),
    `      postfixConfigDir: ${quoted(detected.postfixConfigDir ?? '/etc/postfix')}`,
    `      dovecotConfig: ${quoted(detected.dovecotConfig ?? '/etc/dovecot/dovecot.conf')}`,
    ...knownGood,
    `      logFiles: ${list(detected.logFiles.length > 0 ? detected.logFiles : ['/var/log/mail.log'])}`,
    `      mailDirs: ${list(detected.mailDirs.length > 0 ? detected.mailDirs : ['/var/mail'])}`,
    '      # mailOwner: vmail:vmail # who owns the mailboxes; without it mailmend never changes their ownership',
    '      deferredThreshold: 20 # deferred messages above which the queue counts as backed up',
  ];
}

function serverSection(facts: InitServerFacts | undefined): string[] {
  const host = facts?.login.host ?? 'mx1.example.com';
  const fill = facts ? '# check: the mail services may answer on another name' : '# FILL IN';
  const header = [
    `  - id: ${quoted(serverIdFor(host))} # the name alerts use (or one of aliases)`,
    `    smtp: { host: ${quoted(host)}, port: 25 } ${fill}`,
    `    imap: { host: ${quoted(host)}, port: 993, tls: true } ${fill}`,
  ];
  if (!facts) {
    return [
      ...header,
      '    # ssh: lets mailmend diagnose and fix the host; `npx mailmend init --ssh user@host --force` fills it in',
      '    # host: paths on the mail host (postfixConfigDir, dovecotConfig, logFiles...); see the README',
    ];
  }
  return [
    ...header,
    '    ssh:',
    `      host: ${quoted(facts.login.host)}`,
    `      port: ${facts.login.port}`,
    `      user: ${quoted(facts.login.user)}`,
    `      hostKey: ${quoted(facts.hostKey)} # pinned: a different key is refused`,
    `      privateKey: { file: ${quoted(facts.identityFile)} }`,
    ...hostSection(facts),
  ];
}

/**
 * The commented `mailmend.yaml` that `mailmend init` writes. It loads as it is; every `# FILL IN` marks a value that
 * only works once it names your own servers, addresses and people.
 */
export function renderInitConfig(facts: InitServerFacts | undefined): string {
  return [
    "# mailmend configuration, written by `npx mailmend init`. Every key is in the README's configuration table.",
    '# Lines marked FILL IN hold placeholders: the file loads with them, but mail only reaches people once they are yours.',
    '# Secrets never go in this file: each is { env: VAR_NAME } or { file: path }. Relative paths are beside this file.',
    '',
    'locale: en # en or fr: the language of every notification and report',
    'timeZone: UTC # IANA zone that times are shown in, e.g. Europe/Paris',
    '',
    'webhook:',
    '  host: 127.0.0.1',
    '  port: 8080',
    '  # bearerToken: { env: MAILMEND_WEBHOOK_TOKEN } # then alerts need Authorization: Bearer <token>',
    '',
    'servers:',
    ...serverSection(facts),
    '    # canary: { mailbox: canary@example.com, imapUser: canary, imapPassword: { env: MX1_CANARY_PASSWORD } }',
    '',
    '# Notifications must not depend on the failing server: send them through another relay.',
    'fallbackRelay:',
    '  host: smtp.backup-provider.example # FILL IN',
    '  port: 587',
    '  requireTls: true',
    '  from: IT service desk <it-service-desk@example.com> # FILL IN: users see this sender',
    '  # auth: { user: mailmend, password: { env: MAILMEND_RELAY_PASSWORD } }',
    '',
    'audiences: # chat channels: { name: ops-chat, type: webhook, url: { env: OPS_CHAT_WEBHOOK_URL } }',
    '  itTeam:',
    '    channels: [{ name: ops-mail, type: email, to: [mail-ops@example.com] }] # FILL IN',
    '  management:',
    '    channels: [{ name: mgmt-mail, type: email, to: [it-management@example.com] }] # FILL IN',
    '  users:',
    '    channels: [{ name: all-staff, type: email, to: [all-staff@example.com] }] # FILL IN',
    '',
    'approvers: [alice] # FILL IN: only these names count when they approve or reject a fix',
    '',
    'policies:',
    '  updateInterval: 30m # users get an update this often while the incident is open',
    '  approvalTimeout: 15m # then management is told, and mailmend keeps waiting',
    '  confirmationsRequired: 2 # distinct people who confirm the fix works',
    '  # approvalsRequired: { low: 1, medium: 1, high: 2 } # distinct approvers per risk; at most the number of approvers',
    '',
  ].join('\n');
}
