import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freeLoopbackPort, LOOPBACK } from '../../platform/loopback';
import { resolveTemporalUiServer, uiServerArgs } from '../../platform/temporal/ui-server/resolve';
import { connectTestClient, sharedServerAddress } from '../support/temporal';

interface UiServerProcess {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

interface ListNamespacesBody {
  namespaces: { namespaceInfo: { name: string; id: string } }[];
}

function startUiServer(executable: string, args: string[]): UiServerProcess {
  const child = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** Resolves once the UI server answers its health check; fails with its stderr if it exits or stays silent. */
async function answers(baseUrl: string, ui: UiServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void ui.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline && exitCode === undefined) {
    const healthy = await fetch(`${baseUrl}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the UI server did not answer on ${baseUrl} (exit ${exitCode}):\n${ui.stderr()}`);
}

describe('the Temporal UI server for a frontend elsewhere', () => {
  let executable: string;
  let ui: UiServerProcess | undefined;
  let baseUrl: string;
  const namespaceShownFirst = 'mailmend-ui-test';

  beforeAll(async () => {
    ({ executable } = await resolveTemporalUiServer({ env: process.env, onProgress: (line) => console.log(line) }));
    const port = await freeLoopbackPort();
    baseUrl = `http://${LOOPBACK}:${port}`;
    ui = startUiServer(
      executable,
      uiServerArgs({ frontendAddress: sharedServerAddress(), host: LOOPBACK, port, namespace: namespaceShownFirst }),
    );
    await answers(baseUrl, ui);
  }, 300_000);

  afterAll(async () => {
    if (ui && ui.child.exitCode === null && ui.child.signalCode === null) {
      ui.child.kill('SIGTERM');
      await ui.exited;
    }
  });

  it("lists the frontend's own namespaces, the way the UI's namespace selector asks for them", async () => {
    const response = await fetch(`${baseUrl}/api/v1/namespaces`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as ListNamespacesBody;
    const listed = body.namespaces.find(({ namespaceInfo }) => namespaceInfo.name === 'default');
    expect(listed).toBeDefined();

    // A namespace's id is random per server, so matching it shows the UI talks to this very frontend.
    const temporal = await connectTestClient();
    try {
      const described = await temporal.client.workflowService.describeNamespace({ namespace: 'default' });
      const frontendId = described.namespaceInfo?.id;
      expect(frontendId).toEqual(expect.stringMatching(/\S/));
      expect(listed?.namespaceInfo.id).toBe(frontendId);
    } finally {
      await temporal.close();
    }
  });

  it('serves the Web UI, opening on the namespace it was given', async () => {
    const page = await fetch(`${baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<html[\s\S]*_app\/immutable/);

    const settings = (await (await fetch(`${baseUrl}/api/v1/settings`)).json()) as { DefaultNamespace: string };
    expect(settings.DefaultNamespace).toBe(namespaceShownFirst);
  });

  it('exits non-zero, naming the address, when its port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, LOOPBACK, resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const blocked = startUiServer(
        executable,
        uiServerArgs({ frontendAddress: sharedServerAddress(), host: LOOPBACK, port }),
      );
      expect(await blocked.exited).not.toBe(0);
      expect(blocked.stderr()).toContain(`cannot serve the Temporal UI on ${LOOPBACK}:${port}`);
      expect(blocked.stderr()).toContain('address already in use');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
