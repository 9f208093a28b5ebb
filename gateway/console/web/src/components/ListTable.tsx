import type { ComponentChildren } from 'preact'

interface ListTableProps<T> {
  /** null while loading. */
  items: T[] | null
  count: (n: number) => string
  loading: string
  empty: string
  /** The id of the heading that names the table's scrollable region. */
  labelledBy: string
  tableClass: string
  columns: string[]
  row: (item: T) => ComponentChildren
}

/**
 * A list page's table (devices, contacts, outbox): the count announced politely, the table in a
 * focusable region named by the page's heading (it scrolls sideways on a phone), one header cell
 * per column, and a line in place of the table when the list is empty.
 */
export function ListTable<T>({ items, count, loading, empty, labelledBy, tableClass, columns, row }: ListTableProps<T>) {
  return (
    <>
      <p class="count" aria-live="polite">
        {items ? count(items.length) : loading}
      </p>
      {items && items.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-labelledby={labelledBy}>
          <table class={`history ${tableClass}`}>
            <thead>
              <tr>
                {columns.map((c, i) => (
                  <th key={i} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>{items.map(row)}</tbody>
          </table>
        </div>
      )}
      {items?.length === 0 && <p class="empty">{empty}</p>}
    </>
  )
}
