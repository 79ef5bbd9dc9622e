/** One line of the summary: what the issue asks for, what this run measured, and whether that meets it. */
export interface Figure {
  name: string;
  goal: string;
  measured: string;
  /** Undefined for a figure printed for information, with no goal to meet. */
  met?: boolean;
  /** The figure as one number, which `--cluster` compares between the dev server and the cluster. */
  reading?: Reading;
}

/** One number and its unit, e.g. `{ amount: 48.1, unit: 'ms' }`. */
export interface Reading {
  amount: number;
  unit: string;
  /** The side-by-side row, where the figure's own name differs between backends. */
  label?: string;
}

/** Detail lines a figure prints as it goes, before the summary. */
export function report(figure: string, line: string): void {
  process.stdout.write(`[${figure}] ${line}\n`);
}

/** The figures as a table; exits non-zero when one misses its goal, so a script can tell. */
export function printSummary(figures: Figure[]): void {
  const rows = figures.map((figure) => [
    figure.name,
    figure.goal,
    figure.measured,
    figure.met === undefined ? '' : figure.met ? 'PASS' : 'MISS',
  ]);
  printTable(['figure', 'goal', 'measured', ''], rows);
  if (figures.some((figure) => figure.met === false)) process.exitCode = 1;
}

/** Columns padded to their widest cell, under a ruled header. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(`\n${line(header)}\n${line(widths.map((width) => '-'.repeat(width)))}`);
  for (const row of rows) console.log(line(row));
}

/** `12.3 ms`, `4.56 s`: milliseconds in the unit a person reads fastest. */
export function formatMs(ms: number): string {
  return ms < 1_000 ? `${ms.toFixed(1)} ms` : `${(ms / 1_000).toFixed(2)} s`;
}
