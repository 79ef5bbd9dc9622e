import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load';
import type { ActivityDeps } from '../activities';
import type { ResolvedChannel } from '../activities/notify';
import { loadSignatureCatalog } from '../activities/signatures/catalog';
import { createSshRemediationExecutor } from '../activities/ssh-remediation';
import { loadMessageTemplates } from '../activities/templates/catalog';
import type { MailmendMetrics } from '../platform/metrics';
import { createMailHostAccess } from './mail-host-access';
import { AUDIENCES } from '../workflows/messages';

interface BuiltActivityDeps {
  deps: ActivityDeps;
  close(): void;
}

/**
 * Builds every client the activities use, once per worker, resolving secrets from their references, and loads the log
 * signatures and message templates, so a bad operator signature or template file stops the worker at start, named.
 * `metrics`, when given, counts notifications; pass the instance the process serves on `/metrics`.
 */
export function buildActivityDeps(
  { config, secrets, baseDir }: LoadedConfig,
  logger: Logger,
  metrics?: MailmendMetrics,
): BuiltActivityDeps {
  const signatures = loadSignatureCatalog(config.signatureFiles.map((file) => path.resolve(baseDir, file)));
  const templates = loadMessageTemplates({
    locale: config.locale,
    timeZone: config.timeZone,
    ...(config.templatesDir ? { templatesDir: path.resolve(baseDir, config.templatesDir) } : {}),
  });
  const relay = config.fallbackRelay;
  const transport = relay
    ? nodemailer.createTransport({
        // Notices come in bursts (every audience of every incident at once): a few reused connections spare each one
        // its own TCP and TLS handshake, and stay below the per-client connection limits relays enforce.
        pool: true,
        maxConnections: 10,
        host: relay.host,
        port: relay.port,
        secure: relay.secure,
        requireTLS: relay.requireTls,
        ...(relay.auth ? { auth: { user: relay.auth.user, pass: secrets.resolve(relay.auth.password) } } : {}),
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      })
    : undefined;
  const channels: ResolvedChannel[] = AUDIENCES.flatMap((audience) =>
    config.audiences[audience].channels.map((channel): ResolvedChannel =>
      channel.type === 'email'
        ? { audience, name: channel.name, type: 'email', to: channel.to }
        : { audience, name: channel.name, type: 'webhook', url: secrets.resolve(channel.url) },
    ),
  );
  const mailHost = createMailHostAccess(secrets);
  const deps: ActivityDeps = {
    servers: new Map(config.servers.map((server) => [server.id, server])),
    probeTimeoutMs: config.policies.probeTimeout,
    signatures,
    channels,
    ...(transport && relay ? { mailer: { transport, from: relay.from } } : {}),
    webhookTimeoutMs: 10_000,
    templates,
    reportsDir: path.resolve(baseDir, config.reportsDir),
    mailHost,
    roundTripTimeoutMs: config.policies.roundTripTimeout,
    remediationExecutor: createSshRemediationExecutor(mailHost),
    logger,
    ...(metrics ? { metrics } : {}),
  };
  return { deps, close: () => transport?.close() };
}
