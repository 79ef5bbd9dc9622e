import { closestName } from '../../platform/closest-name';

describe('closestName', () => {
  test('finds the name a typo meant', () => {
    expect(closestName('mx-1', ['mx1', 'relay-backup'])).toBe('mx1');
    expect(closestName('MAIL-EU', ['mail-eu', 'mail-us-east'])).toBe('mail-eu');
    expect(closestName('mial-eu', ['mail-eu', 'mail-us-east'])).toBe('mail-eu');
  });

  test('says nothing when no name is close, or two are equally close', () => {
    expect(closestName('backup', ['mx1', 'mx2'])).toBeUndefined();
    expect(closestName('mx3', ['mx1', 'mx2'])).toBeUndefined();
    expect(closestName('mx1', [])).toBeUndefined();
  });
});
