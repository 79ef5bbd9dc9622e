import { PassThrough } from 'node:stream';
import { createLogger, logFormatFor } from '../../platform/logger';

function captured(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

describe('logFormatFor', () => {
  test.each([
    [{}, true, 'pretty'],
    [{}, false, 'json'],
    [{}, undefined, 'json'],
    [{ CI: 'true' }, true, 'json'],
    [{ CI: '1' }, true, 'json'],
    [{ CI: '' }, true, 'pretty'],
    [{ CI: 'false' }, true, 'pretty'],
    [{ LOG_FORMAT: 'json' }, true, 'json'],
    [{ LOG_FORMAT: 'pretty' }, false, 'pretty'],
    [{ LOG_FORMAT: 'Pretty', CI: 'true' }, false, 'pretty'],
    [{ LOG_FORMAT: 'yaml' }, false, 'json'],
    [{ LOG_FORMAT: 'yaml' }, true, 'pretty'],
  ] as const)('env %j with a terminal %s logs %s', (env, terminal, format) => {
    expect(logFormatFor(env, terminal)).toBe(format);
  });
});

describe('createLogger', () => {
  const line = { incidentId: 'incident-mx1-42', serverId: 'mx1', step: 'assess', auth: { password: 'hunter2' } };

  test('JSON lines carry the incident, the server and the step, with secrets masked', () => {
    const out = captured();
    createLogger({ format: 'json', destination: out.stream }).info(line, 'probing SMTP');

    const logged = JSON.parse(out.text()) as Record<string, unknown>;
    expect(logged).toMatchObject({
      msg: 'probing SMTP',
      incidentId: 'incident-mx1-42',
      serverId: 'mx1',
      step: 'assess',
      service: 'mailmend',
      auth: { password: '[secret]' },
    });
  });

  test('pretty lines lead with the incident and step, keep the other fields, and mask secrets', () => {
    const out = captured();
    createLogger({ format: 'pretty', destination: out.stream }).info(line, 'probing SMTP');

    const [first, ...rest] = out.text().trimEnd().split('\n');
    expect(first).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[incident-mx1-42 assess\] probing SMTP$/);
    expect(rest.join('\n')).toContain('serverId: "mx1"');
    expect(out.text()).not.toContain('hunter2');
    expect(out.text()).toContain('[secret]');
    expect(() => JSON.parse(out.text()) as unknown).toThrow();
  });

  test('a pretty line without an incident is just the message', () => {
    const out = captured();
    createLogger({ format: 'pretty', destination: out.stream }).warn('webhook listening');

    expect(out.text().trimEnd()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: webhook listening$/);
  });
});
