import { useEffect, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { formatTime, useI18n } from '../i18n.ts'
import { TableHead } from '../components/Table.tsx'

// Admins' view of the webhook subscriptions and each one's delivery log (docs/webhooks.md).

interface Webhook {
  id: string
  url: string
  events: string[]
  enabled: boolean
  consecutive_failures: number
  disabled_reason?: string
}
interface Delivery {
  id: string
  key: string
  event: string
  state: 'pending' | 'delivered'
  attempts: number
  response_code?: number
  next_attempt_at?: string
  last_error?: string
  created_at: string
}

const COLUMNS = ['time', 'event', 'key', 'state', 'code', 'attempts', 'next'] as const

export function WebhooksPage() {
  const { t, lang } = useI18n()
  const [hooks, setHooks] = useState<Webhook[] | null>(null)
  const [logs, setLogs] = useState<Record<string, Delivery[]>>({})
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    let current = true
    api.get<{ items: Webhook[] }>('/webhooks').then(
      async (r) => {
        const entries = await Promise.all(
          r.items.map(async (w) => [w.id, (await api.get<{ items: Delivery[] }>(`/webhooks/${w.id}/deliveries?limit=20`)).items] as const),
        )
        if (!current) return
        setHooks(r.items)
        setLogs(Object.fromEntries(entries))
      },
      (err: Error) => current && setError(err.message),
    )
    return () => {
      current = false
    }
  }, [])
  return (
    <section class="webhooks" aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">{t('webhooks.title')}</h1>
      {error && <p role="alert">{t('webhooks.error', { message: error })}</p>}
      {hooks && hooks.length === 0 && <p>{t('webhooks.none')}</p>}
      {hooks?.map((w) => (
        <article key={w.id} class="webhook" aria-labelledby={`wh-${w.id}`}>
          <h2 id={`wh-${w.id}`}>{w.url}</h2>
          <p>
            {w.enabled ? t('webhooks.enabled') : t('webhooks.disabled', { reason: w.disabled_reason ?? '' })}
            {' · '}
            {w.events.join(', ')}
          </p>
          <div class="table-wrap">
            <table class="history webhook-log">
              <caption>{t('webhooks.log', { url: w.url })}</caption>
              <TableHead columns={COLUMNS.map((c) => t(`webhooks.col.${c}`))} />
              <tbody>
                {(logs[w.id] ?? []).length === 0 && (
                  <tr>
                    <td colSpan={COLUMNS.length}>{t('webhooks.noDeliveries')}</td>
                  </tr>
                )}
                {(logs[w.id] ?? []).map((d) => (
                  <tr key={d.id}>
                    <td>{formatTime(lang, d.created_at)}</td>
                    <td>{d.event}</td>
                    <td>
                      <code>{d.key}</code>
                    </td>
                    <td>{d.state === 'delivered' ? t('webhooks.delivered') : t('webhooks.pending')}</td>
                    <td>{d.response_code ?? d.last_error ?? ''}</td>
                    <td>{d.attempts}</td>
                    <td>{d.next_attempt_at ? formatTime(lang, d.next_attempt_at) : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </article>
      ))}
    </section>
  )
}
