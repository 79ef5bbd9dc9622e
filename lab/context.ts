import { readFile, writeFile } from 'node:fs/promises';
import { LabStateError } from './errors';
import { labLayout, type LabLayout, type LabSettings } from './layout';
import { requireLabTools, type LabTools } from './prerequisites';

/** What every lab command works from: the programs, the paths, and the ports `labUp` chose. */
export interface LabContext {
  tools: LabTools;
  layout: LabLayout;
  settings: LabSettings;
}

export async function readLabSettings(layout: LabLayout): Promise<LabSettings | undefined> {
  try {
    return JSON.parse(await readFile(layout.settingsFile, 'utf8')) as LabSettings;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function writeLabSettings(layout: LabLayout, settings: LabSettings): Promise<void> {
  await writeFile(layout.settingsFile, `${JSON.stringify(settings, null, 2)}\n`);
}

/** The context of a lab that `labUp` has set up in `stateDir`; a state dir without one is an error naming the fix. */
export async function loadLabContext(stateDir: string): Promise<LabContext> {
  const layout = labLayout(stateDir);
  const settings = await readLabSettings(layout);
  if (!settings) {
    throw new LabStateError(`there is no lab in ${layout.stateDir}: start one with \`npx mailmend lab up\``);
  }
  return { tools: requireLabTools(), layout, settings };
}
