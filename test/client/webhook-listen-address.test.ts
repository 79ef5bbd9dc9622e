import { webhookListenAddress } from '../../client/webhook/listen-address';

describe('where the webhook listens', () => {
  const configured = { host: '127.0.0.1', port: 8080 };

  test('the config, unless the environment names another host or port', () => {
    expect(webhookListenAddress(configured, {})).toEqual(configured);
    expect(webhookListenAddress(configured, { MAILMEND_WEBHOOK_PORT: '18081' })).toEqual({
      host: '127.0.0.1',
      port: 18081,
    });
    expect(webhookListenAddress(configured, { MAILMEND_WEBHOOK_HOST: '0.0.0.0', MAILMEND_WEBHOOK_PORT: ' ' })).toEqual({
      host: '0.0.0.0',
      port: 8080,
    });
  });

  test.each(['0', '65536', '80a', '-1', '8080.5'])('MAILMEND_WEBHOOK_PORT=%s is refused, naming the value', (value) => {
    expect(() => webhookListenAddress(configured, { MAILMEND_WEBHOOK_PORT: value })).toThrow(
      `MAILMEND_WEBHOOK_PORT must be a port number from 1 to 65535, not "${value}"`,
    );
  });
});
