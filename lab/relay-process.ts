import { rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';

/**
 * The lab's stand-in for the upstream relay: accepts every message on loopback and discards it. Started by
 * `lab/relay.ts` as its own process, so stopping it is what an unreachable upstream looks like to Postfix.
 *
 * Usage: relay-process --port 2526 --pid-file <state>/relay.pid
 */
function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string' }, 'pid-file': { type: 'string' } } });
  const port = Number(values.port);
  const pidFile = values['pid-file'];
  if (!Number.isInteger(port) || port <= 0 || !pidFile) {
    throw new Error('usage: relay-process --port <port> --pid-file <file>');
  }

  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    closeTimeout: 200,
    onData: (stream, session, callback) => {
      let size = 0;
      stream.on('data', (chunk: Buffer) => (size += chunk.length));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((recipient) => recipient.address).join(', ');
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '<>';
        console.log(`${new Date().toISOString()} accepted and discarded ${from} -> ${to} (${size} bytes)`);
        callback();
      });
    },
  });

  const exit = (): void => {
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  // A sender may hold an idle cached connection open; stopping must not wait for it to time out.
  const stop = (): void => {
    setTimeout(exit, 2_000).unref();
    server.close(exit);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  server.on('error', (error) => {
    console.error(`relay error: ${error.message}`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    writeFileSync(pidFile, `${process.pid}\n`);
    console.log(`${new Date().toISOString()} relay listening on 127.0.0.1:${port}`);
  });
}

main();
