import {
  ensureKeywordSearchAttributes,
  SearchAttributeRegistrationError,
} from '../../platform/temporal/search-attribute-registration';

type OperatorService = Parameters<typeof ensureKeywordSearchAttributes>[0];

function grpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** An operator service that records what was added, listing `existing`, or failing as told. */
function operatorService(behaviour: { existing?: string[]; listFails?: Error; addFails?: Error }) {
  const added: Record<string, unknown>[] = [];
  const service = {
    listSearchAttributes: async () => {
      if (behaviour.listFails) throw behaviour.listFails;
      return { customAttributes: Object.fromEntries((behaviour.existing ?? []).map((name) => [name, 2])) };
    },
    addSearchAttributes: async (request: { searchAttributes?: Record<string, unknown> | null }) => {
      if (behaviour.addFails) throw behaviour.addFails;
      added.push({ ...request.searchAttributes });
      return {};
    },
  } as unknown as OperatorService;
  return { service, added };
}

const NAMES = ['MailServerId', 'IncidentPhase'];

describe('ensureKeywordSearchAttributes', () => {
  test('adds only the names the namespace lacks, as Keywords', async () => {
    const { service, added } = operatorService({ existing: ['MailServerId'] });
    expect(await ensureKeywordSearchAttributes(service, 'default', NAMES)).toBe('registered');
    expect(added).toEqual([{ IncidentPhase: 2 }]);
  });

  test('adds nothing when all are there', async () => {
    const { service, added } = operatorService({ existing: NAMES });
    expect(await ensureKeywordSearchAttributes(service, 'default', NAMES)).toBe('registered');
    expect(added).toEqual([]);
  });

  test('adds every name on a server that cannot list them, and an existing one is no error', async () => {
    const unimplemented = operatorService({ listFails: grpcError(12, 'unimplemented') });
    expect(await ensureKeywordSearchAttributes(unimplemented.service, 'default', NAMES)).toBe('registered');
    expect(unimplemented.added).toEqual([{ MailServerId: 2, IncidentPhase: 2 }]);
    const raced = operatorService({ existing: [], addFails: grpcError(6, 'already exists') });
    expect(await ensureKeywordSearchAttributes(raced.service, 'default', NAMES)).toBe('registered');
  });

  test('says it could not check when the credentials may not list them', async () => {
    const { service, added } = operatorService({ listFails: grpcError(7, 'permission denied') });
    expect(await ensureKeywordSearchAttributes(service, 'prod', NAMES)).toBe('unverified');
    expect(added).toEqual([]);
  });

  test('a refused registration names the commands that register them by hand', async () => {
    const { service } = operatorService({ existing: [], addFails: grpcError(7, 'permission denied') });
    const failure = ensureKeywordSearchAttributes(service, 'prod', NAMES);
    await expect(failure).rejects.toBeInstanceOf(SearchAttributeRegistrationError);
    await expect(failure).rejects.toThrow(
      'temporal operator search-attribute create --namespace prod --name IncidentPhase --type Keyword',
    );
  });
});
