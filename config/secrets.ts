import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SecretRef } from './schema';

/**
 * Resolves secret references against one environment. It remembers every value it hands out, so tests can prove that
 * none reaches a workflow history, a report or a log line; the logger itself masks secret-bearing keys by name
 * (platform/logger.ts), not these values.
 */
export class SecretResolver {
  private readonly resolved = new Set<string>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly baseDir: string,
  ) {}

  /** Throws an error that names the reference, never the value. */
  resolve(ref: SecretRef): string {
    const value = 'env' in ref ? this.env[ref.env] : this.readFile(ref.file);
    if (value === undefined || value.trim() === '') {
      throw new Error('env' in ref ? `environment variable ${ref.env} is not set` : `file ${ref.file} is empty`);
    }
    const secret = 'env' in ref ? value : value.trim();
    this.resolved.add(secret);
    return secret;
  }

  /** Every secret value resolved so far. */
  knownSecrets(): string[] {
    return [...this.resolved];
  }

  private readFile(file: string): string {
    const resolved = path.resolve(this.baseDir, file);
    try {
      return readFileSync(resolved, 'utf8');
    } catch (error) {
      throw new Error(`cannot read file ${resolved}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`, {
        cause: error,
      });
    }
  }
}
