/**
 * Rows as aligned columns, two spaces apart, each line ending in a newline; `indent` goes before every line.
 *
 * @example textTable([['SERVICE', 'PID'], ['postfix', '42']], '  ')
 */
export function textTable(rows: string[][], indent = ''): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) => `${indent}${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}`.trimEnd())
    .map((line) => `${line}\n`)
    .join('');
}
