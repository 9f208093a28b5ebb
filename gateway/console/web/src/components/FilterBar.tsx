import { useState } from 'preact/hooks'
import { KINDS, SEVERITIES, type Filters } from '../alerts.ts'
import { useI18n, type Key } from '../i18n.ts'

interface Option {
  value: string
  label: string
}

function Select({
  id,
  label,
  value,
  options,
  onChange,
}: {
  id: string
  label: string
  value: string
  options: Option[]
  onChange: (v: string) => void
}) {
  const { t } = useI18n()
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{t('filter.all')}</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  )
}

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
        <Select
          id="f-kind"
          label={t('filter.kind')}
          value={filters.kind}
          onChange={set('kind')}
          options={KINDS.map((k) => ({ value: k, label: t(`kind.${k}` as Key) }))}
        />
        <Select
          id="f-station"
          label={t('filter.station')}
          value={filters.station}
          onChange={set('station')}
          options={stations.map((s) => ({ value: s, label: s }))}
        />
        <Select
          id="f-district"
          label={t('filter.district')}
          value={filters.district}
          onChange={set('district')}
          options={districts.map((d) => ({ value: d, label: d }))}
        />
        <Select
          id="f-severity"
          label={t('filter.severity')}
          value={filters.severity}
          onChange={set('severity')}
          options={[...SEVERITIES].reverse().map((s) => ({ value: s, label: t(`severity.${s}` as Key) }))}
        />
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
