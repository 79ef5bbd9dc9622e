/**
 * Where the webhook listens: the config's `webhook.host` and `webhook.port`, unless `MAILMEND_WEBHOOK_HOST` or
 * `MAILMEND_WEBHOOK_PORT` say otherwise, so several webhooks (or a container) can share one config file.
 */
export function webhookListenAddress(
  configured: { host: string; port: number },
  env: NodeJS.ProcessEnv,
): { host: string; port: number } {
  const host = env.MAILMEND_WEBHOOK_HOST?.trim() || configured.host;
  const portText = env.MAILMEND_WEBHOOK_PORT?.trim();
  if (!portText) return { host, port: configured.port };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`MAILMEND_WEBHOOK_PORT must be a port number from 1 to 65535, not "${portText}"`);
  }
  return { host, port };
}
