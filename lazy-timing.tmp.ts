import { lazyTemporal } from './client/connection';
import { closedLoopbackPort } from './test/webhook/support';
(async () => {
  const port = await closedLoopbackPort();
  const t = lazyTemporal({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  for (const ms of [1000, 3000, 5000]) {
    const s = Date.now();
    try {
      await t.connection.withAbortSignal(AbortSignal.timeout(ms), () => t.connection.withDeadline(Date.now() + ms, () => t.client.workflow.getHandle('x').describe()));
    } catch (e) { console.log(ms, 'took', Date.now() - s, (e as Error).message, ((e as Error).cause as Error)?.message); }
    const s2 = Date.now();
    try {
      await t.connection.withDeadline(Date.now() + ms, () => t.client.workflow.getHandle('x').describe());
    } catch (e) { console.log(ms, 'deadline only took', Date.now() - s2); }
  }
  await t.connection.close();
})();
