import type { Client } from '@temporalio/client';

/** An open Temporal connection for one command; the CLI closes it when the command ends. */
export interface TemporalSession {
  client: Client;
  /** Named in the error when Temporal stops answering. */
  address: string;
  close(): Promise<void>;
}

/** Everything a command touches outside the process, so tests run the program in-process against their own server. */
export interface CliDeps {
  connect(): Promise<TemporalSession>;
  stdout(text: string): void;
  stderr(text: string): void;
  now?: () => Date;
  /** How long one command may wait for Temporal. Default 10 s. */
  commandTimeoutMs?: number;
}
