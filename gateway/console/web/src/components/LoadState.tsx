import { ErrorText } from './ErrorText.tsx'

/**
 * What a list says in place of its rows: the failure, "loading" until the first answer (unless it
 * failed), and "none" for an empty list. The rows themselves are the page's.
 */
export function LoadState({
  items,
  error,
  loading,
  empty,
  loadingClass = 'count',
}: {
  /** null until loaded. */
  items: readonly unknown[] | null
  error: string | null
  loading: string
  empty: string
  loadingClass?: string
}) {
  return (
    <>
      <ErrorText message={error} />
      {items === null && !error && <p class={loadingClass}>{loading}</p>}
      {items?.length === 0 && <p class="empty">{empty}</p>}
    </>
  )
}
