/** A cluster component did not start or did not become ready; the message ends with the log lines that say why. */
export class ClusterServiceError extends Error {
  constructor(
    readonly service: string,
    problem: string,
    readonly logFile: string,
    readonly logTail: string,
    options?: ErrorOptions,
  ) {
    super(`the cluster's ${service} ${problem}\n${logFile} ends with:\n${logTail}`, options);
    this.name = 'ClusterServiceError';
  }
}

/** The state directory or the machine is not in a state the command can work from. */
export class ClusterStateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClusterStateError';
  }
}
