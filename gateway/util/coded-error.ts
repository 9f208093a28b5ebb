/**
 * An error that carries a code the caller can act on (gateway/api/errors.ts answers with a status
 * by it) next to a message a person can read. It is named after its class, for the logs.
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message)
    this.name = new.target.name
  }
}
