import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { mailmendVersion } from '../platform/package-version';

const DIGEST_LENGTH = 12;
const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

/**
 * The build id of the workflow code beside `workflowsEntry` (the file `require.resolve('../workflows')` gives):
 * `<mailmend version>+<12 hex digits>`, the digest covering every source file of that directory (the compiled `.js`
 * under `dist/`, the `.ts` when run from source), path and content, in a sorted order. The same code gives the same id
 * on every machine, so workers of one release join one Worker Deployment Version, and any workflow change gives a new
 * one.
 *
 * @example workflowCodeBuildId(require.resolve('../workflows')) // '0.1.0+3f2a9c0d41be'
 */
export function workflowCodeBuildId(workflowsEntry: string, releaseVersion = mailmendVersion()): string {
  const directory = path.dirname(workflowsEntry);
  const extension = path.extname(workflowsEntry);
  const digest = createHash('sha256');
  for (const relativePath of sourceFiles(directory, extension)) {
    digest.update(`${relativePath}\0`);
    digest.update(readFileSync(path.join(directory, relativePath)));
    digest.update('\0');
  }
  return `${releaseVersion}+${digest.digest('hex').slice(0, DIGEST_LENGTH)}`;
}

function sourceFiles(directory: string, extension: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension) && !entry.name.endsWith(`.d${extension}`))
    .map((entry) => path.relative(directory, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/**
 * The Worker Deployment Version the worker runs as, from `MAILMEND_DEPLOYMENT_NAME` and `MAILMEND_BUILD_ID`;
 * undefined (an unversioned worker) when no deployment name is set. Without `MAILMEND_BUILD_ID` the build id is the
 * workflow code's own ({@link workflowCodeBuildId}).
 */
export function workerDeploymentFromEnv(
  env: NodeJS.ProcessEnv,
  workflowsEntry: string,
): WorkerDeploymentVersion | undefined {
  const deploymentName = env.MAILMEND_DEPLOYMENT_NAME?.trim();
  const buildId = env.MAILMEND_BUILD_ID?.trim();
  if (!deploymentName) {
    if (buildId) {
      throw new Error('MAILMEND_BUILD_ID is set but MAILMEND_DEPLOYMENT_NAME is not: set both, or neither');
    }
    return undefined;
  }
  if (!DEPLOYMENT_NAME.test(deploymentName)) {
    throw new Error(
      `MAILMEND_DEPLOYMENT_NAME must be letters, digits, '-' and '_' (no '.' or ':'), at most 100 characters, ` +
        `starting with a letter or digit, e.g. mailmend; not "${deploymentName}"`,
    );
  }
  if (buildId !== undefined && buildId !== '' && !BUILD_ID.test(buildId)) {
    throw new Error(
      `MAILMEND_BUILD_ID must be letters, digits, '.', '_', '+' and '-', at most 200 characters, starting with a ` +
        `letter or digit, e.g. 0.2.0+9c41d2e or a git commit; not "${buildId}"`,
    );
  }
  return { deploymentName, buildId: buildId || workflowCodeBuildId(workflowsEntry) };
}
