export class AlertError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict',
    message: string,
  ) {
    super(message)
    this.name = 'AlertError'
  }
}

/**
 * Cluster mode (docs/operations.md "Alert rules across nodes"): the alert partition's lease this
 * write was made under is no longer this node's (fenceCheck), so nothing of it was stored.
 */
export class FencedError extends Error {
  constructor(readonly lease: string) {
    super(`alert partition ${lease} is no longer held by this node`)
    this.name = 'FencedError'
  }
}
