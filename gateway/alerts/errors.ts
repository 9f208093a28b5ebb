export class AlertError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict',
    message: string,
  ) {
    super(message)
    this.name = 'AlertError'
  }
}
