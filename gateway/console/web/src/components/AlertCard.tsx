import { Component } from 'preact'
import { romanLevel, type Alert, type DeviceInfo } from '../alerts.ts'
import { formatNumber, formatTime, useI18n } from '../i18n.ts'
import { navigate } from '../router.ts'

export type AlertAction = 'ack' | 'resolve'

/** The facts of an alert as short phrases (station, district, value...), in the chosen language. */
export function AlertFacts({ alert: a, devices }: { alert: Alert; devices: readonly DeviceInfo[] }) {
  const { t, lang } = useI18n()
  const unit = a.unit ? ` ${a.unit}` : ''
  const fmt = (n: number) => formatNumber(lang, n)
  const facts: string[] = [t(`kind.${a.kind}`)]
  if (a.level) facts.push(t('alert.level', { level: romanLevel(a.level) }))
  if (a.station) facts.push(t('alert.station', { station: a.station }))
  if (a.district) facts.push(t('alert.district', { district: a.district }))
  if (a.zone) facts.push(t('alert.zone', { zone: a.zone }))
  const named = devices.map((d) => (d.name ? `${d.name} (${d.id})` : d.id))
  if (named.length) facts.push(t('alert.device', { device: named.join(', ') }))
  if (a.value !== undefined) {
    facts.push(
      a.threshold !== undefined
        ? t('alert.value', { value: fmt(a.value), threshold: fmt(a.threshold), unit })
        : t('alert.valueOnly', { value: fmt(a.value), unit }),
    )
  }
  facts.push(t('alert.opened', { time: formatTime(lang, a.opened_at) }))
  return (
    <ul class="facts">
      {facts.map((f) => (
        <li key={f}>{f}</li>
      ))}
      {a.late && <li class="late">{t('alert.late')}</li>}
    </ul>
  )
}

export function SeverityBadge({ severity }: { severity: Alert['severity'] }) {
  const { t } = useI18n()
  return <span class={`badge sev-${severity}`}>{t(`severity.${severity}`)}</span>
}

interface AlertCardProps {
  alert: Alert
  devices: readonly DeviceInfo[]
  canAct: boolean
  onAction: (a: Alert, action: AlertAction) => void
}

const sameDevices = (a: readonly DeviceInfo[], b: readonly DeviceInfo[]) => a.length === b.length && a.every((d, i) => d === b[i])

/**
 * One alert of the board, drawn again only when its own props change: a change to one alert
 * (an SSE event) then redraws one card, not the hundreds beside it (bench/README.md, "console").
 * A language switch still reaches it: Preact re-renders context consumers whatever this says.
 */
export class AlertCard extends Component<AlertCardProps> {
  override shouldComponentUpdate(next: AlertCardProps): boolean {
    const p = this.props
    return p.alert !== next.alert || p.canAct !== next.canAct || p.onAction !== next.onAction || !sameDevices(p.devices, next.devices)
  }

  override render(props: AlertCardProps) {
    return <AlertCardView {...props} />
  }
}

function AlertCardView({ alert: a, devices, canAct, onAction }: AlertCardProps) {
  const { t, lang } = useI18n()
  const titleId = `alert-${a.id}-title`
  const href = `/alerts/${encodeURIComponent(a.id)}`
  return (
    <li class={`alert sev-${a.severity} is-${a.state}`} data-alert-id={a.id} aria-labelledby={titleId}>
      <div class="alert-head">
        <SeverityBadge severity={a.severity} />
        <span class={`state state-${a.state}`}>{t(`state.${a.state}`)}</span>
        <h3 id={titleId}>{a.title}</h3>
      </div>
      <AlertFacts alert={a} devices={devices} />
      {a.acknowledged && (
        <p class="who-did">
          {t('alert.ackBy', { by: a.acknowledged.by, time: formatTime(lang, a.acknowledged.at) })}
          {a.acknowledged.note && (
            <>
              : <q>{a.acknowledged.note}</q>
            </>
          )}
        </p>
      )}
      <div class="alert-actions">
        {canAct && a.state === 'open' && (
          <button type="button" aria-describedby={titleId} onClick={() => onAction(a, 'ack')}>
            {t('alert.ack')}
          </button>
        )}
        {canAct && (
          <button type="button" class="secondary" aria-describedby={titleId} onClick={() => onAction(a, 'resolve')}>
            {t('alert.resolve')}
          </button>
        )}
        <a
          class="history-link"
          href={href}
          aria-describedby={titleId}
          onClick={(e) => {
            e.preventDefault()
            navigate(href)
          }}
        >
          {t('alert.history')}
        </a>
      </div>
    </li>
  )
}
