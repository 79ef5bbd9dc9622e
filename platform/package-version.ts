import { readFileSync } from 'node:fs';
import path from 'node:path';

/** mailmend's version from its package.json, found above this file both in the sources and in `dist/`. */
export function mailmendVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'mailmend' && manifest.version) return manifest.version;
    } catch {
      // No package.json here: keep walking up.
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
