import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LAB_SCENARIOS } from '../../lab';
import { E2E_SCENARIO_RUNS } from './scenario-outcomes';

// Runs no lab: it reads the lists and the e2e files that run them.
describe('every scenario mailmend lab can break has an e2e run that checks no incident ended badly', () => {
  test('the e2e lists together cover exactly the lab scenarios', () => {
    const covered = new Set(E2E_SCENARIO_RUNS.flatMap((run) => run.scenarios));
    expect([...covered].sort()).toEqual([...LAB_SCENARIOS].sort());
  });

  test.each(E2E_SCENARIO_RUNS)('$file runs $list and ends with the outcome check', ({ file, list }) => {
    const source = readFileSync(path.join(__dirname, file), 'utf8');
    expect({
      importsList: new RegExp(`import \\{[^}]*\\b${list}\\b[^}]*\\} from './scenario-outcomes'`).test(source),
      runsList: new RegExp(`test\\.each\\(${list}\\)`).test(source),
      checksOutcomes: /^testNoIncidentEndedBadly\(/m.test(source),
    }).toEqual({ importsList: true, runsList: true, checksOutcomes: true });
  });
});
