/**
 * The environment PostgreSQL, the Temporal server and its UI start with: a PATH and nothing else of the caller's,
 * whose environment may hold secrets that a database superuser or a server's debug endpoint could read.
 */
export function daemonEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { PATH: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
}
