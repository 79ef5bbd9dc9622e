import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mailmendVersion } from '../../platform/package-version';
import { workerDeploymentFromEnv, workflowCodeBuildId } from '../../worker/build-id';

/** A compiled workflows directory like dist/workflows, with files written in the given order. */
function compiledWorkflows(files: Record<string, string>): string {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'mailmend-build-id-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(directory, name)), { recursive: true });
    writeFileSync(path.join(directory, name), content);
  }
  return path.join(directory, 'index.js');
}

const RELEASE = {
  'index.js': 'exports.mailOutageIncident = require("./incident").mailOutageIncident;\n',
  'incident.js': 'exports.mailOutageIncident = async () => "closed";\n',
  'nested/notices.js': 'exports.notice = "resolved";\n',
};

describe('the build id derived from the workflow code', () => {
  const made: string[] = [];
  const workflows = (files: Record<string, string>) => {
    const entry = compiledWorkflows(files);
    made.push(path.dirname(entry));
    return entry;
  };
  afterAll(() => made.forEach((directory) => rmSync(directory, { recursive: true, force: true })));

  test('the same code gives the same id, wherever it lies and in whatever order its files were written', () => {
    const reversed = Object.fromEntries(Object.entries(RELEASE).reverse());
    const first = workflowCodeBuildId(workflows(RELEASE), '0.2.0');
    expect(first).toMatch(/^0\.2\.0\+[0-9a-f]{12}$/);
    expect(workflowCodeBuildId(workflows(reversed), '0.2.0')).toBe(first);
  });

  test('a changed, added or renamed workflow file gives another id; source maps and typings do not count', () => {
    const base = workflowCodeBuildId(workflows(RELEASE), '0.2.0');
    const changed = { ...RELEASE, 'incident.js': 'exports.mailOutageIncident = async () => "escalated";\n' };
    expect(workflowCodeBuildId(workflows(changed), '0.2.0')).not.toBe(base);
    expect(workflowCodeBuildId(workflows({ ...RELEASE, 'extra.js': '' }), '0.2.0')).not.toBe(base);
    const entry = workflows(RELEASE);
    renameSync(path.join(path.dirname(entry), 'nested'), path.join(path.dirname(entry), 'moved'));
    expect(workflowCodeBuildId(entry, '0.2.0')).not.toBe(base);
    const withArtifacts = { ...RELEASE, 'incident.js.map': '{"version":3}', 'incident.d.ts': 'export {};' };
    expect(workflowCodeBuildId(workflows(withArtifacts), '0.2.0')).toBe(base);
  });

  test('the release version leads the id, so two releases of the same workflow code stay apart', () => {
    const entry = workflows(RELEASE);
    expect(workflowCodeBuildId(entry, '0.3.0').split('+')).toEqual([
      '0.3.0',
      workflowCodeBuildId(entry, '0.2.0').split('+')[1],
    ]);
  });

  test("mailmend's own workflows, run from source, have a stable id under the package version", () => {
    const entry = require.resolve('../../workflows');
    const id = workflowCodeBuildId(entry);
    expect(id.startsWith(`${mailmendVersion()}+`)).toBe(true);
    expect(workflowCodeBuildId(entry)).toBe(id);
  });
});

describe('the worker deployment version from the environment', () => {
  const entry = require.resolve('../../workflows');

  test('no MAILMEND_DEPLOYMENT_NAME: an unversioned worker', () => {
    expect(workerDeploymentFromEnv({}, entry)).toBeUndefined();
    expect(workerDeploymentFromEnv({ MAILMEND_DEPLOYMENT_NAME: '  ' }, entry)).toBeUndefined();
  });

  test('a deployment name alone takes the build id of the workflow code; MAILMEND_BUILD_ID overrides it', () => {
    expect(workerDeploymentFromEnv({ MAILMEND_DEPLOYMENT_NAME: 'mailmend' }, entry)).toEqual({
      deploymentName: 'mailmend',
      buildId: workflowCodeBuildId(entry),
    });
    expect(
      workerDeploymentFromEnv({ MAILMEND_DEPLOYMENT_NAME: ' mailmend ', MAILMEND_BUILD_ID: ' 0.2.0+9c41d2e ' }, entry),
    ).toEqual({ deploymentName: 'mailmend', buildId: '0.2.0+9c41d2e' });
  });

  test.each([
    [{ MAILMEND_DEPLOYMENT_NAME: 'mail.mend' }, 'MAILMEND_DEPLOYMENT_NAME must be letters'],
    [{ MAILMEND_DEPLOYMENT_NAME: 'mail:mend' }, `(no '.' or ':')`],
    [{ MAILMEND_DEPLOYMENT_NAME: '__mailmend' }, 'not "__mailmend"'],
    [{ MAILMEND_DEPLOYMENT_NAME: 'mailmend', MAILMEND_BUILD_ID: 'release 2' }, 'MAILMEND_BUILD_ID must be letters'],
    [{ MAILMEND_DEPLOYMENT_NAME: 'mailmend', MAILMEND_BUILD_ID: "b'1" }, `not "b'1"`],
    [{ MAILMEND_BUILD_ID: 'B' }, 'MAILMEND_BUILD_ID is set but MAILMEND_DEPLOYMENT_NAME is not'],
  ])('%j is refused, saying why', (env, reason) => {
    expect(() => workerDeploymentFromEnv(env, entry)).toThrow(reason);
  });
});
