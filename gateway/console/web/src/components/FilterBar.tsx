import { useState } from 'preact/hooks'
import { KINDS, SEVERITIES, type Filters } from '../alerts.ts'
import { useI18n, type Key } from '../i18n.ts'
import { SelectField } from './Field.tsx'

export function FilterBar({
  filters,
  stations,
  districts,
  onChange,
}: {
  filters: Filters
  stations: string[]
  districts: string[]
  onChange: (f: Filters) => void
}) {
  const { t } = useI18n()
  const set = (k: keyof Filters) => (v: string) => onChange({ ...filters, [k]: v })
  const inUse = Object.values(filters).filter(Boolean).length
  // Open on a wide screen; on a phone folded, so the alerts come first.
  const [wide] = useState(() => window.matchMedia('(min-width: 721px)').matches)
  return (
    <details class="filters-box" open={wide}>
      <summary>{inUse ? t('filter.active', { count: inUse }) : t('filter.heading')}</summary>
      <form class="filters" aria-label={t('filter.heading')} onSubmit={(e) => e.preventDefault()}>
        {(
          [
            ['kind', KINDS.map((k) => ({ value: k, label: t(`kind.${k}` as Key) }))],
            ['station', stations.map((s) => ({ value: s, label: s }))],
            ['district', districts.map((d) => ({ value: d, label: d }))],
            ['severity', [...SEVERITIES].reverse().map((s) => ({ value: s, label: t(`severity.${s}` as Key) }))],
          ] as const
        ).map(([k, options]) => (
          <SelectField
            key={k}
            class="field"
            id={`f-${k}`}
            label={t(`filter.${k}`)}
            all={t('filter.all')}
            value={filters[k]}
            onChange={set(k)}
            options={options}
          />
        ))}
        <button
          type="button"
          class="secondary"
          disabled={!inUse}
          onClick={() => onChange({ kind: '', station: '', district: '', severity: '' })}
        >
          {t('filter.clear')}
        </button>
      </form>
    </details>
  )
}
