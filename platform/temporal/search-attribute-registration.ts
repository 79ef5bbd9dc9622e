import type { Connection } from '@temporalio/client';

type OperatorService = Pick<Connection['operatorService'], 'listSearchAttributes' | 'addSearchAttributes'>;

/** gRPC status codes and the proto enum value, by number: neither package is a direct dependency of mailmend. */
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;
const INDEXED_VALUE_TYPE_KEYWORD = 2;

/** The registration was refused, e.g. on Temporal Cloud, where an API key may not manage search attributes. */
export class SearchAttributeRegistrationError extends Error {
  constructor(namespace: string, names: readonly string[], cause: unknown) {
    const commands = names
      .map((name) => `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`)
      .join('\n  ');
    super(
      `could not register the search attributes ${names.join(', ')} in namespace ${namespace}: ` +
        `${cause instanceof Error ? cause.message : String(cause)}. Incidents cannot start until they exist; ` +
        `register them once with:\n  ${commands}`,
      { cause },
    );
  }
}

function grpcCode(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

/**
 * Registers as Keyword each of `names` the namespace lacks, as `temporal operator search-attribute create` would:
 * a workflow that upserts an unregistered attribute fails its task, so a worker makes sure before it polls. Servers
 * that cannot list them (the Java test server) get every name added; one that already exists is not an error. With
 * credentials that may not list them, nothing can be checked: `unverified`, and the caller warns.
 */
export async function ensureKeywordSearchAttributes(
  operatorService: OperatorService,
  namespace: string,
  names: readonly string[],
): Promise<'registered' | 'unverified'> {
  let missing = [...names];
  try {
    const { customAttributes } = await operatorService.listSearchAttributes({ namespace });
    missing = names.filter((name) => !(name in customAttributes));
  } catch (error) {
    // Credentials that may not even list them (an API key on Temporal Cloud) may still run workflows that use them.
    if (grpcCode(error) === GRPC_PERMISSION_DENIED) return 'unverified';
    if (grpcCode(error) !== GRPC_UNIMPLEMENTED) throw new SearchAttributeRegistrationError(namespace, names, error);
  }
  if (missing.length === 0) return 'registered';
  try {
    await operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, INDEXED_VALUE_TYPE_KEYWORD])),
    });
  } catch (error) {
    if (grpcCode(error) === GRPC_ALREADY_EXISTS) return 'registered';
    throw new SearchAttributeRegistrationError(namespace, missing, error);
  }
  return 'registered';
}
