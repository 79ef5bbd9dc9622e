/** Where mailmend looks for Temporal when neither the environment nor a profile names an address. */
export const DEFAULT_TEMPORAL_HOST = '127.0.0.1';
export const DEFAULT_TEMPORAL_PORT = 7233;
export const DEFAULT_TEMPORAL_ADDRESS = `${DEFAULT_TEMPORAL_HOST}:${DEFAULT_TEMPORAL_PORT}`;
export const DEFAULT_NAMESPACE = 'default';
