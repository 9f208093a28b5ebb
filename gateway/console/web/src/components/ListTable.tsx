import type { ComponentChildren } from 'preact'
import { ScrollTable } from './Table.tsx'

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
        <ScrollTable labelledBy={labelledBy} tableClass={tableClass} columns={columns}>
          {items.map(row)}
        </ScrollTable>
      )}
      {items?.length === 0 && <p class="empty">{empty}</p>}
    </>
  )
}

/**
 * A button acting on one row. Its accessible name starts with the visible word (WCAG 2.5.3) and
 * then names the row's thing, so a screen reader's list of buttons tells the rows apart.
 */
export function RowButton({ text, of, danger = false, onClick }: { text: string; of: string; danger?: boolean; onClick: () => void }) {
  return (
    <button type="button" class={danger ? 'danger' : 'secondary'} aria-label={`${text}: ${of}`} onClick={onClick}>
      {text}
    </button>
  )
}
