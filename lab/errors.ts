/** A lab service did not start or did not come to listen; the message ends with the log lines that say why. */
export class LabServiceError extends Error {
  constructor(
    readonly service: string,
    problem: string,
    readonly logFile: string,
    readonly logTail: string,
    options?: ErrorOptions,
  ) {
    super(`the lab's ${service} ${problem}\n${logFile} ends with:\n${logTail}`, options);
    this.name = 'LabServiceError';
  }
}

/** The state directory is not in a state the command can work from, e.g. a lab that is only partly running. */
export class LabStateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LabStateError';
  }
}
