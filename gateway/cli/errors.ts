/** A failure the user can act on: printed as one line, exit code 1, no stack. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}
