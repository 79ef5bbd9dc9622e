import { chromium, type Browser } from 'playwright-core';
import { findOnPath } from '../../platform/temporal/tool-cache';

/** Debian's package names the binary `chromium`; Ubuntu's and others' `chromium-browser`. */
const CHROMIUM_COMMANDS = ['chromium', 'chromium-browser'];

/** `$MAILMEND_CHROMIUM`, else the first Chromium on PATH; browsers cannot be downloaded here, so Playwright's own are not used. */
export function findChromium(env: NodeJS.ProcessEnv): string | undefined {
  if (env.MAILMEND_CHROMIUM) return env.MAILMEND_CHROMIUM;
  for (const command of CHROMIUM_COMMANDS) {
    const found = findOnPath(command, env);
    if (found) return found;
  }
  return undefined;
}

/**
 * What a missing browser means: CI installs Chromium in .ci/run, so there its absence is a failure; a developer
 * without it gets a skip that says how to install it.
 */
export function missingChromiumMessage(env: NodeJS.ProcessEnv): { fail: boolean; message: string } {
  const install = 'apt-get install -y chromium (or set MAILMEND_CHROMIUM to a Chromium binary)';
  return env.CI
    ? { fail: true, message: `no Chromium on PATH in CI: .ci/run should have installed it; ${install}` }
    : { fail: false, message: `skipping the Temporal UI browser test: no Chromium on PATH; ${install}` };
}

/** Headless Chromium; `--no-sandbox` because tests run as root here, where Chromium's sandbox refuses to start. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}
