import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = path.join(__dirname, '..', '..');

// Every command mailmend prints starts with `npx mailmend`: after `npm ci && npm run build` it must run as printed.
describe('npx mailmend, as the README and every printed command use it', () => {
  test('runs the built binary', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run('npx', ['--no-install', 'mailmend', '--version'], { cwd: repo });
    expect(stdout.trim()).toBe(version);
  });
});
