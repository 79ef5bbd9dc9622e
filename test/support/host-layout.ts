import { serverSchema, type HostLayout } from '../../config/schema';

/** A server's host layout as the config schema fills it in, from only the fields a test names. */
export function layoutOf(host: Record<string, unknown>): HostLayout {
  return serverSchema.parse({ id: 'mx1', smtp: { host: 'mx1', port: 25 }, imap: { host: 'mx1', port: 143 }, host })
    .host;
}
