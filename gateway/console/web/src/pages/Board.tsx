import { useCallback, useMemo, useState } from 'preact/hooks'
import { devicesOf, matches, NO_FILTERS, sortAlerts, type Alert, type Filters } from '../alerts.ts'
import { ActionDialog } from '../components/ActionDialog.tsx'
import { AlertCard, type AlertAction } from '../components/AlertCard.tsx'
import { Banner } from '../components/Banner.tsx'
import { FilterBar } from '../components/FilterBar.tsx'
import { useI18n } from '../i18n.ts'
import type { LiveAlerts } from '../live.ts'

const distinct = (values: Array<string | undefined>) => [...new Set(values.filter((v): v is string => !!v))].sort()

/** The officer's home: open and acknowledged alerts, most severe and newest first, live. */
export function Board({ live, canAct }: { live: LiveAlerts; canAct: boolean }) {
  const { t } = useI18n()
  const [filters, setFilters] = useState<Filters>(NO_FILTERS)
  const [dialog, setDialog] = useState<{ alert: Alert; action: AlertAction } | null>(null)
  const [message, setMessage] = useState<string | null>(null)
  const all = useMemo(() => sortAlerts(live.alerts.values()), [live.alerts])
  const shown = useMemo(() => all.filter((a) => matches(a, filters)), [all, filters])
  const stations = useMemo(() => distinct(all.map((a) => a.station)), [all])
  const districts = useMemo(() => distinct(all.map((a) => a.district)), [all])
  // One handler for every card, so a card whose alert did not change is not drawn again.
  const onAction = useCallback((alert: Alert, action: AlertAction) => {
    setMessage(null)
    setDialog({ alert, action })
  }, [])

  return (
    <section class="board" aria-labelledby="board-heading">
      <Banner events={live.attention} onDismiss={live.dismiss} />
      <div class="board-head">
        <h1 id="board-heading">{t('board.heading')}</h1>
        <p class={`live ${live.live ? 'on' : 'off'}`} role="status">
          {live.live ? t('live.on') : t('live.off')}
        </p>
      </div>
      <FilterBar filters={filters} stations={stations} districts={districts} onChange={setFilters} />
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      {live.loadError && (
        <p class="error" role="alert">
          {t('error.server', { message: live.loadError })}
        </p>
      )}
      <p class="count" aria-live="polite">
        {live.loaded ? t('board.count', { shown: shown.length, total: all.length }) : t('board.loading')}
      </p>
      {live.loaded && shown.length === 0 && <p class="empty">{all.length ? t('board.emptyFiltered') : t('board.empty')}</p>}
      <ul class="alerts">
        {shown.map((a) => (
          <AlertCard key={a.id} alert={a} devices={devicesOf(a, live.devices)} canAct={canAct} onAction={onAction} />
        ))}
      </ul>
      {dialog && (
        <ActionDialog
          alert={dialog.alert}
          action={dialog.action}
          onDone={live.apply}
          onClose={(conflict) => {
            setDialog(null)
            if (conflict) {
              setMessage(t('action.conflict'))
              live.reload()
            }
          }}
        />
      )}
    </section>
  )
}
