import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  SignatureFileError,
  loadSignatureCatalog,
  loadSignatureFile,
  shippedSignatureFiles,
} from '../../activities/signatures/catalog';
import { classifyLines } from '../../activities/signatures/classify';
import { fillArgv } from '../../activities/signatures/placeholders';

const EXAMPLE = path.resolve(__dirname, '../../docs/examples/signatures.yaml');
const scratch = mkdtempSync(path.join(tmpdir(), 'mailmend-signatures-'));

function operatorFile(name: string, yaml: string): string {
  const file = path.join(scratch, name);
  writeFileSync(file, yaml);
  return file;
}

function loadError(file: string): SignatureFileError {
  try {
    loadSignatureCatalog([file]);
  } catch (error) {
    if (error instanceof SignatureFileError) return error;
    throw error;
  }
  throw new Error(`${file} loaded without an error`);
}

const VALID = `signatures:
  - id: site-thing
    daemon: postfix
    failureClass: thing
    pattern: 'thing broke on port (?<port>\\d+)'
    cause: 'the thing on {port}'
    confidence: 0.5
    handover: 'look at it'
`;

describe('the signature catalog', () => {
  test('every shipped file loads, with unique ids, each naming a catalog action or a handover', () => {
    const catalog = loadSignatureCatalog();
    expect(shippedSignatureFiles().map((file) => path.basename(file))).toEqual([
      'dovecot.yaml',
      'postfix.yaml',
      'system.yaml',
    ]);
    expect(new Set(catalog.map((signature) => signature.id)).size).toBe(catalog.length);
    for (const signature of catalog) expect(signature.action ?? signature.handover).toBeDefined();
  });

  test("the example operator file loads through the real loader and classifies a relay's quota reply", () => {
    const catalog = loadSignatureCatalog([EXAMPLE]);
    const line = {
      source: '/var/log/mail.log',
      text: 'Nov 29 14:00:00 mx postfix/smtp[99]: 4ZqA1: to=<a@b.example>, relay=smtp.relay.example[198.51.100.7]:587, delay=2, status=deferred (host smtp.relay.example[198.51.100.7] said: 452 4.3.1 Daily sending quota exceeded (in reply to MAIL FROM command))',
    };
    expect(classifyLines([line], catalog).map((match) => [match.signature.id, match.groups.relay])).toEqual([
      ['site-relay-quota', 'smtp.relay.example'],
    ]);
    expect(loadSignatureFile(EXAMPLE).map((signature) => signature.file)).toEqual([EXAMPLE, EXAMPLE]);
  });

  test('an operator signature with a shipped id replaces it', () => {
    const file = operatorFile('override.yaml', VALID.replace('site-thing', 'postfix-bind-conflict'));
    const replaced = loadSignatureCatalog([file]).filter((signature) => signature.id === 'postfix-bind-conflict');
    expect(replaced.map((signature) => signature.file)).toEqual([file]);
  });

  test.each([
    [
      'an unknown catalog action',
      VALID.replace("handover: 'look at it'", 'action: reboot-the-world'),
      /signature "site-thing": action: "reboot-the-world" is not in the remediation catalog/,
    ],
    [
      'a placeholder nothing fills',
      VALID.replace('{port}', '{host}'),
      /signature "site-thing": cause: \{host\} is neither a named group/,
    ],
    [
      'a pattern that does not compile',
      VALID.replace('(?<port>', '(?<port'),
      /signature "site-thing": pattern: not a regular expression/,
    ],
    [
      'neither action nor handover',
      VALID.replace("    handover: 'look at it'\n", ''),
      /signature "site-thing": action: give either a catalog action or a handover/,
    ],
    [
      'an unknown gather kind',
      VALID.replace('    handover', "    gather:\n      - { kind: reboot, path: '/x' }\n    handover"),
      /signatures\[0\] \(site-thing\)\.gather\[0\]\.kind: Invalid option/,
    ],
    ['a confidence above 1', VALID.replace('0.5', '1.5'), /signatures\[0\] \(site-thing\)\.confidence: Too big/],
    [
      'a gather kind without its parameter',
      VALID.replace('    handover', '    gather:\n      - { kind: listeners }\n    handover'),
      /gather\[0\]: listeners needs "port"/,
    ],
  ])('%s fails worker start naming the file, the signature and the field', (_name, yaml, message) => {
    const file = operatorFile(`bad-${Math.random().toString(36).slice(2)}.yaml`, yaml);
    const error = loadError(file);
    expect(error.message).toContain(`invalid signature file ${file}`);
    expect(error.problems.join('\n')).toMatch(message);
  });

  test('the same id in two operator files is refused; a missing file names itself', () => {
    const first = operatorFile('one.yaml', VALID);
    const second = operatorFile('two.yaml', VALID);
    expect(() => loadSignatureCatalog([first, second])).toThrow(
      /signature "site-thing": id: already defined in .*one\.yaml/,
    );
    expect(loadError(path.join(scratch, 'missing.yaml')).problems).toEqual(['cannot read it as YAML: ENOENT']);
  });
});

describe('captured values in suggested commands', () => {
  test.each([
    [['ss', '-ltnp', 'sport = :{port}'], { port: '2525' }, ['ss', '-ltnp', 'sport = :2525']],
    [['ss', '-ltnp', 'sport = :{port}'], { port: '25; rm -rf /' }, undefined],
    [['stat', '{file}'], { file: '/etc/dovecot/users' }, ['stat', '/etc/dovecot/users']],
    [['stat', '{file}'], { file: '/etc/../etc/shadow' }, undefined],
    [['stat', '{file}'], { file: 'relative/path' }, undefined],
    [['stat', '{file}'], { file: '/tmp/$(reboot)' }, undefined],
    [['host', '-t', '{type}', '{name}'], { type: 'MX', name: 'example.net' }, ['host', '-t', 'MX', 'example.net']],
    [['host', '{name}'], { name: '-oProxyCommand=x' }, undefined],
    [['ps', '-p', '{holderPid}'], {}, undefined],
  ])('%j with %j', (template, values, argv) => {
    expect(fillArgv(template, values)).toEqual(argv);
  });
});
