import { printTable, type Figure, type Reading } from './figures';

/**
 * Every figure with a reading, as measured on the dev server and on the cluster, and their ratio (cluster / dev
 * server: above 1 is slower, or bigger, on the cluster). A figure only one run has gets a `-` in the other.
 */
export function printSideBySide(devServer: Figure[], cluster: Figure[]): void {
  const devReadings = readingsByLabel(devServer);
  const clusterReadings = readingsByLabel(cluster);
  const labels = [...new Set([...devReadings.keys(), ...clusterReadings.keys()])];
  const rows = labels.map((label) => {
    const dev = devReadings.get(label);
    const onCluster = clusterReadings.get(label);
    return [label, describe(dev), describe(onCluster), ratio(dev, onCluster)];
  });
  console.log('\ndev server and cluster, side by side (ratio = cluster / dev server)');
  printTable(['figure', 'dev server', 'cluster', 'ratio'], rows);
}

function readingsByLabel(figures: Figure[]): Map<string, Reading> {
  const readings = new Map<string, Reading>();
  for (const figure of figures) if (figure.reading) readings.set(figure.reading.label ?? figure.name, figure.reading);
  return readings;
}

function describe(reading: Reading | undefined): string {
  return reading ? `${formatAmount(reading.amount)} ${reading.unit}` : '-';
}

/** No ratio where it would mean nothing: a reading missing, units that differ, or a zero (no errors) to divide by. */
function ratio(dev: Reading | undefined, cluster: Reading | undefined): string {
  if (!dev || !cluster || dev.unit !== cluster.unit || dev.amount === 0) return '-';
  return `${(cluster.amount / dev.amount).toFixed(2)}x`;
}

/** `3`, `4.56`, `48.1`, `1234`: whole counts as they are, other amounts to about three significant digits. */
function formatAmount(amount: number): string {
  if (Number.isInteger(amount)) return String(amount);
  if (Math.abs(amount) < 10) return amount.toFixed(2);
  if (Math.abs(amount) < 1_000) return amount.toFixed(1);
  return amount.toFixed(0);
}
