import type { ComponentChildren } from 'preact'

/** A column heading: its text, or the text with a key (columns built from data) and a class. */
export type Column = ComponentChildren | { key?: string | number; label: ComponentChildren; class?: string }

function isColumnObject(c: Column): c is { key?: string | number; label: ComponentChildren; class?: string } {
  return typeof c === 'object' && c !== null && 'label' in c
}

/** One header row of column headings (scope=col, so a screen reader names each cell by its column). */
export function TableHead({ columns }: { columns: Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) =>
          isColumnObject(c) ? (
            <th key={c.key ?? i} scope="col" class={c.class}>
              {c.label}
            </th>
          ) : (
            <th key={i} scope="col">
              {c}
            </th>
          ),
        )}
      </tr>
    </thead>
  )
}

/**
 * A data table in a region that scrolls sideways on a phone: the region takes focus so a keyboard
 * can scroll it, and is named by the page's heading (labelledBy) or by its own label.
 */
export function ScrollTable({
  labelledBy,
  label,
  tableClass,
  columns,
  children,
}: {
  labelledBy?: string
  label?: string
  /** Added to `history`, the console's table style. */
  tableClass?: string
  columns: Column[]
  children: ComponentChildren
}) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-labelledby={labelledBy} aria-label={label}>
      <table class={tableClass ? `history ${tableClass}` : 'history'}>
        <TableHead columns={columns} />
        <tbody>{children}</tbody>
      </table>
    </div>
  )
}
