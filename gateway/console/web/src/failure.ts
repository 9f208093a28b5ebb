import { useState } from 'preact/hooks'
import { ApiError } from './api.ts'
import type { Translate } from './i18n.ts'

/** What a request threw as an ApiError: anything else is the network's failure (status 0). */
export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, 'network')
}

/** The line said for a failed request: the network is down, or the server's own message. */
export function failureText(t: Translate, e: ApiError): string {
  return e.status === 0 ? t('error.network') : t('error.server', { message: e.message })
}

/** A load that failed: "not found" (the page's own words) for a 404, else the server's message. */
export function loadFailureText(t: Translate, err: unknown, notFound: string): string {
  return err instanceof ApiError && err.status === 404 ? notFound : t('error.server', { message: (err as Error).message })
}

/**
 * A form's submit: busy while the request runs (the button says so and cannot be pressed twice),
 * the failure said under the form. `explain` words a failure the form knows better (409: taken),
 * or returns null when it has handled it itself; otherwise the failure says itself.
 */
export function useSubmit(t: Translate, explain: (e: ApiError) => string | null | undefined = () => undefined) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  /** Runs the request; false when it failed. */
  const run = async (request: () => Promise<void>): Promise<boolean> => {
    setBusy(true)
    setError(null)
    try {
      await request()
      return true
    } catch (err) {
      const e = asApiError(err)
      const said = explain(e)
      if (said !== null) setError(said ?? failureText(t, e))
      return false
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, setError, run }
}
