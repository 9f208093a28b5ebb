import { useEffect, useState } from 'preact/hooks'
import { devicesOf, loadAlert, romanLevel, type Alert } from '../alerts.ts'
import { ActionDialog } from '../components/ActionDialog.tsx'
import { AlertFacts, SeverityBadge, type AlertAction } from '../components/AlertCard.tsx'
import { Banner } from '../components/Banner.tsx'
import { formatNumber, formatTime, useI18n } from '../i18n.ts'
import type { LiveAlerts } from '../live.ts'
import { AppLink } from '../components/AppLink.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { ScrollTable } from '../components/Table.tsx'
import { loadFailureText } from '../failure.ts'

/** One alert and its whole history (GET /alerts/:id), refetched when the stream reports a change. */
export function AlertPage({ id, live, canAct }: { id: string; live: LiveAlerts; canAct: boolean }) {
  const { t, lang } = useI18n()
  const [alert, setAlert] = useState<Alert | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [action, setAction] = useState<AlertAction | null>(null)
  useEffect(() => {
    let current = true
    loadAlert(id).then(
      (a) => current && (setAlert(a), setError(null)),
      (err: unknown) => current && setError(loadFailureText(t, err, t('history.notFound'))),
    )
    return () => {
      current = false
    }
  }, [id, live.version])

  const back = (
    <AppLink class="back" href="/">
      {t('history.back')}
    </AppLink>
  )
  if (!alert) {
    return (
      <section class="alert-page" aria-labelledby="history-heading">
        {back}
        <h1 id="history-heading">{t('history.heading')}</h1>
        <ErrorText message={error} />
      </section>
    )
  }
  const history = [...(alert.history ?? [])].sort((a, b) => b.seq - a.seq)
  return (
    <section class="alert-page" aria-labelledby="history-heading">
      <Banner events={live.attention.filter((e) => e.id !== id)} onDismiss={live.dismiss} />
      {back}
      <h1 id="history-heading">{t('history.heading')}</h1>
      <div class={`alert detail sev-${alert.severity}`}>
        <div class="alert-head">
          <SeverityBadge severity={alert.severity} />
          <span class={`state state-${alert.state}`}>{t(`state.${alert.state}`)}</span>
          <h2>{alert.title}</h2>
        </div>
        <AlertFacts alert={alert} devices={devicesOf(alert, live.devices)} />
        {alert.acknowledged && (
          <p class="who-did">{t('alert.ackBy', { by: alert.acknowledged.by, time: formatTime(lang, alert.acknowledged.at) })}</p>
        )}
        {alert.resolved && (
          <p class="who-did">{t('alert.resolvedBy', { by: alert.resolved.by, time: formatTime(lang, alert.resolved.at) })}</p>
        )}
        {canAct && alert.state !== 'resolved' && (
          <div class="alert-actions">
            {alert.state === 'open' && (
              <button type="button" onClick={() => setAction('ack')}>
                {t('alert.ack')}
              </button>
            )}
            <button type="button" class="secondary" onClick={() => setAction('resolve')}>
              {t('alert.resolve')}
            </button>
          </div>
        )}
      </div>
      <ScrollTable
        labelledBy="history-heading"
        columns={[t('history.when'), t('history.action'), t('history.severity'), t('history.value'), t('history.by'), t('history.note')]}
      >
        {history.map((h) => (
          <tr key={h.seq}>
            <td data-label={t('history.when')}>{formatTime(lang, h.at)}</td>
            <td data-label={t('history.action')}>{t(`historyAction.${h.action}`)}</td>
            <td data-label={t('history.severity')}>
              {t(`severity.${h.severity}`)}
              {h.level ? ` (${romanLevel(h.level)})` : ''}
            </td>
            <td data-label={t('history.value')}>
              {h.value !== undefined ? `${formatNumber(lang, h.value)}${alert.unit ? ` ${alert.unit}` : ''}` : null}
            </td>
            <td data-label={t('history.by')}>{h.by === 'system' ? t('by.system') : h.by}</td>
            <td data-label={t('history.note')}>{h.note ?? null}</td>
          </tr>
        ))}
      </ScrollTable>
      {action && (
        <ActionDialog
          alert={alert}
          action={action}
          onDone={(a) => {
            live.apply(a)
            setAlert(a)
          }}
          onClose={() => setAction(null)}
        />
      )}
    </section>
  )
}
