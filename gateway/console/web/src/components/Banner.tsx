import type { AlertEvent } from '../alerts.ts'
import { useI18n } from '../i18n.ts'
import { navigate } from '../router.ts'
import { SeverityBadge } from './AlertCard.tsx'

/** New major/critical alerts: announced by screen readers (role=alert) and kept until dismissed. */
export function Banner({ events, onDismiss }: { events: AlertEvent[]; onDismiss: (id: string) => void }) {
  const { t } = useI18n()
  return (
    <div class="banners" role="alert" aria-live="assertive">
      {events.map((e) => (
        <div key={e.id} class={`banner sev-${e.severity}`} data-alert-id={e.id}>
          <SeverityBadge severity={e.severity} />
          <p>
            <strong>{t('banner.new')}:</strong> {e.title}
          </p>
          <a
            href={`/alerts/${encodeURIComponent(e.id)}`}
            onClick={(ev) => {
              ev.preventDefault()
              onDismiss(e.id)
              navigate(`/alerts/${encodeURIComponent(e.id)}`)
            }}
          >
            {t('banner.view')}
          </a>
          <button type="button" class="icon" aria-label={t('banner.dismiss')} onClick={() => onDismiss(e.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  )
}
