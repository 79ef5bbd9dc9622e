import ms from 'ms';
import { z } from 'zod';
import { DEFAULT_TEMPORAL_HOST, DEFAULT_TEMPORAL_PORT } from '../platform/temporal/defaults';

/** A secret is never written in the config file: it names an environment variable or a file that holds it. */
const secretRefSchema = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;

const durationSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const millis = typeof value === 'number' ? value : ms(value as ms.StringValue);
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a positive duration such as 90s, 15m or 4h` });
    return z.NEVER;
  }
  return millis;
});

const hostSchema = z.string().min(1);
const portSchema = z.number().int().min(1).max(65535);
const endpointSchema = z.strictObject({ host: hostSchema, port: portSchema });

const sshSchema = z.strictObject({
  host: hostSchema,
  port: portSchema.default(22),
  user: z.string().min(1),
  /** The server's public host key as `ssh-ed25519 AAAA...`, as in known_hosts without the host name. */
  hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$/, 'must be "<type> <base64>"'),
  privateKey: secretRefSchema,
});

/** Where things live on the mail host. Diagnosis and the remediation catalog read paths from here, never from alerts. */
const hostLayoutSchema = z.strictObject({
  postfixConfigDir: z.string().min(1).default('/etc/postfix'),
  dovecotConfig: z.string().min(1).default('/etc/dovecot/dovecot.conf'),
  /** A copy of the configuration known to work, laid out as `postfix/main.cf`, `postfix/master.cf`, `dovecot/dovecot.conf`. */
  knownGoodDir: z.string().min(1).optional(),
  logFiles: z.array(z.string().min(1)).default(['/var/log/mail.log']),
  mailDirs: z.array(z.string().min(1)).default(['/var/mail']),
  packageLogs: z.array(z.string().min(1)).default(['/var/log/dpkg.log', '/var/log/apt/history.log']),
  recentChangeWindow: durationSchema.default(24 * 60 * 60_000),
  /** How far before the alert diagnosis reads the mail logs: older lines belong to earlier incidents. */
  logWindow: durationSchema.default(30 * 60_000),
  /** `user:group` that owns the mailboxes under `mailDirs`; without it mailmend never changes mailbox ownership. */
  mailOwner: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/, 'must be "user:group"')
    .optional(),
  deferredThreshold: z.number().int().min(0).default(0),
});
export type HostLayout = z.infer<typeof hostLayoutSchema>;

export const serverSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-"'),
  /** Alert label values that also mean this server, e.g. the exporter's `instance`. */
  aliases: z.array(z.string().min(1)).default([]),
  smtp: endpointSchema.extend({
    /** A server that does not offer STARTTLS fails the probe; otherwise STARTTLS is checked whenever it is offered. */
    requireTls: z.boolean().default(false),
  }),
  imap: endpointSchema.extend({
    /** Implicit TLS from the first byte (imaps). */
    tls: z.boolean().default(false),
    /** Plain IMAP upgraded with STARTTLS before login. */
    starttls: z.boolean().default(false),
  }),
  /** How the certificates the mail services present are checked. */
  tls: z
    .strictObject({
      /** PEM file of the CA that signs the mail server's certificates, for a private CA; else the system CAs. */
      caFile: z.string().min(1).optional(),
      /** A certificate expiring sooner than this gives the IT team a warning. */
      expiryWarning: durationSchema.default(14 * 24 * 60 * 60_000),
    })
    .prefault({}),
  ssh: sshSchema.optional(),
  host: hostLayoutSchema.prefault({}),
  canary: z
    .strictObject({
      mailbox: z.string().min(1),
      imapUser: z.string().min(1),
      imapPassword: secretRefSchema,
    })
    .optional(),
});
export type ServerConfig = z.infer<typeof serverSchema>;

const emailChannelSchema = z.strictObject({
  name: z.string().min(1),
  type: z.literal('email'),
  to: z.array(z.email()).min(1),
});
const webhookChannelSchema = z.strictObject({
  name: z.string().min(1),
  type: z.literal('webhook'),
  /** Chat webhook URLs carry their own token, so the URL itself is a secret. */
  url: secretRefSchema,
});
const channelSchema = z.discriminatedUnion('type', [emailChannelSchema, webhookChannelSchema]);

const audienceSchema = z.strictObject({ channels: z.array(channelSchema).min(1) });

const fallbackRelaySchema = z.strictObject({
  host: hostSchema,
  port: portSchema,
  secure: z.boolean().default(false),
  requireTls: z.boolean().default(false),
  from: z.string().min(3),
  auth: z.strictObject({ user: z.string().min(1), password: secretRefSchema }).optional(),
});

const policiesSchema = z
  .strictObject({
    updateInterval: durationSchema.default(30 * 60_000),
    approvalTimeout: durationSchema.default(15 * 60_000),
    confirmationTimeout: durationSchema.default(30 * 60_000),
    confirmationsRequired: z.number().int().min(1).max(10).default(2),
    responseTimeTarget: durationSchema.default(60 * 60_000),
    maxVerificationAttempts: z.number().int().min(1).max(10).default(3),
    maxRejections: z.number().int().min(1).max(10).default(2),
    initialEta: durationSchema.optional(),
    // Step 1 waits for login, the token and the logout one after another, about four probe timeouts, and all of it
    // must fit in the probe activity's one minute.
    probeTimeout: durationSchema
      .pipe(z.number().max(12_000, 'must be at most 12s: step 1 must finish within its one-minute activity timeout'))
      .default(5_000),
    /** Step 1's hard deadline: what has not answered by then is reported as unchecked, and past it the incident goes on
     * as an outage of unknown scope. */
    assessmentDeadline: durationSchema
      .pipe(
        z.number().min(5_000, 'must be at least 5s').max(60_000, 'must be at most 60s: users wait on the assessment'),
      )
      .default(30_000),
    /** How long verification keeps probing a just-fixed server (a queue draining, a daemon binding) before it fails. */
    verificationSettle: durationSchema.default(30_000),
    /** How long the verification's test message may take from SMTP submission to the canary's INBOX. */
    roundTripTimeout: durationSchema.default(60_000),
    /** Distinct approvers each risk level of fix needs before it runs. */
    approvalsRequired: z
      .strictObject({
        low: z.number().int().min(1).max(10).default(1),
        medium: z.number().int().min(1).max(10).default(1),
        high: z.number().int().min(1).max(10).default(1),
      })
      .prefault({}),
  })
  .refine((policies) => policies.assessmentDeadline >= 2 * policies.probeTimeout + 5_000, {
    path: ['assessmentDeadline'],
    message:
      'must be at least twice policies.probeTimeout plus 5s, so the ports and banners answer before the probes report',
    // A probe timeout already refused on its own would only repeat the same mistake here.
    when: (payload) => payload.issues.length === 0,
  });

/** The languages mailmend ships message templates for. */
export const LOCALES = ['en', 'fr'] as const;
export type Locale = (typeof LOCALES)[number];

const timeZoneSchema = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Europe/Paris or UTC');

const temporalSchema = z.strictObject({
  /** Where the embedded dev server keeps its SQLite database. */
  dataDir: z.string().default('.mailmend/temporal'),
  host: hostSchema.default(DEFAULT_TEMPORAL_HOST),
  port: portSchema.default(DEFAULT_TEMPORAL_PORT),
  uiPort: portSchema.default(8233),
  shutdownGraceTime: durationSchema.default(30_000),
});

const webhookSchema = z.strictObject({
  host: hostSchema.default('127.0.0.1'),
  port: portSchema.default(8080),
  bearerToken: secretRefSchema.optional(),
  /** The alert label whose value names the mail server. */
  serverLabel: z.string().min(1).default('server'),
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024 * 1024, 'must be at least 1 MiB, Alertmanager batches can be large')
    .default(4 * 1024 * 1024),
  /** An alert identical (server, fingerprint, status) to one signalled within this window is counted, not signalled. */
  collapseWindow: durationSchema.default(60_000),
});

export const configSchema = z
  .strictObject({
    temporal: temporalSchema.prefault({}),
    webhook: webhookSchema.prefault({}),
    reportsDir: z.string().default('reports'),
    /** The language of every notification and report. */
    locale: z.enum(LOCALES).default('en'),
    /** The zone times are shown in, e.g. Europe/Paris. */
    timeZone: timeZoneSchema.default('UTC'),
    /** A directory of operator templates laid out like the shipped ones; each file found replaces the shipped one. */
    templatesDir: z.string().min(1).optional(),
    /** YAML files holding more `servers:` entries, such as the fragment `mailmend lab up` writes. */
    serverFiles: z.array(z.string().min(1)).default([]),
    /** Operators' own log signatures, YAML files in the format of activities/signatures/*.yaml, read after those. */
    signatureFiles: z.array(z.string().min(1)).default([]),
    servers: z.array(serverSchema).min(1, 'list at least one mail server'),
    fallbackRelay: fallbackRelaySchema.optional(),
    audiences: z.strictObject({ itTeam: audienceSchema, management: audienceSchema, users: audienceSchema }),
    approvers: z.array(z.string().min(1)).min(1, 'name at least one person who may approve fixes'),
    policies: policiesSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    const seenIds = new Map<string, number>();
    config.servers.forEach((server, index) => {
      for (const name of [server.id, ...server.aliases]) {
        const earlier = seenIds.get(name);
        if (earlier !== undefined && earlier !== index) {
          ctx.addIssue({
            code: 'custom',
            path: ['servers', index, 'id'],
            message: `"${name}" already names another server`,
          });
        }
        seenIds.set(name, index);
      }
    });
    for (const risk of ['low', 'medium', 'high'] as const) {
      const required = config.policies.approvalsRequired[risk];
      if (required > config.approvers.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', 'approvalsRequired', risk],
          message: `needs ${required} approvers, but only ${config.approvers.length} are listed in approvers`,
        });
      }
    }
    const channelNames = new Set<string>();
    for (const audience of ['itTeam', 'management', 'users'] as const) {
      config.audiences[audience].channels.forEach((channel, index) => {
        if (channel.type === 'email' && !config.fallbackRelay) {
          ctx.addIssue({
            code: 'custom',
            path: ['audiences', audience, 'channels', index],
            message: 'email channels need a fallbackRelay',
          });
        }
        const qualified = `${audience}/${channel.name}`;
        if (channelNames.has(qualified)) {
          ctx.addIssue({
            code: 'custom',
            path: ['audiences', audience, 'channels', index, 'name'],
            message: `duplicate channel name "${channel.name}"`,
          });
        }
        channelNames.add(qualified);
      });
    }
  });

export type MailmendConfig = z.infer<typeof configSchema>;
