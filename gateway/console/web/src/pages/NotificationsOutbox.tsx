import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError } from '../api.ts'
import { formatTime, useI18n } from '../i18n.ts'
import { CHANNELS, listNotifications, OUTBOX_STATES, type Channel, type Notification, type OutboxState } from '../notifications.ts'
import { ListTable } from '../components/ListTable.tsx'

/** The outbox (GET /notifications), newest first, filtered by state and channel. */
export function Outbox({ reloadKey }: { reloadKey: number }) {
  const { t, lang } = useI18n()
  const [state, setState] = useState<OutboxState | ''>('')
  const [channel, setChannel] = useState<Channel | ''>('')
  const [items, setItems] = useState<Notification[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(
    () =>
      listNotifications({ state, channel }).then(
        (p) => {
          setItems(p.items)
          setError(null)
        },
        (err: unknown) => {
          const e = err instanceof ApiError ? err : new ApiError(0, 'network')
          setError(e.status === 0 ? t('error.network') : t('error.server', { message: e.message }))
        },
      ),
    [state, channel, t],
  )
  useEffect(() => {
    void load()
  }, [load, reloadKey])

  return (
    <section class="outbox" aria-labelledby="outbox-heading">
      <h2 id="outbox-heading">{t('notif.outbox')}</h2>
      <div class="outbox-filters">
        <div>
          <label for="outbox-state">{t('notif.outbox.state')}</label>
          <select id="outbox-state" value={state} onChange={(e) => setState(e.currentTarget.value as OutboxState | '')}>
            <option value="">{t('notif.all')}</option>
            {OUTBOX_STATES.map((s) => (
              <option key={s} value={s}>
                {t(`notif.state.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="outbox-channel">{t('notif.outbox.channel')}</label>
          <select id="outbox-channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value as Channel | '')}>
            <option value="">{t('notif.all')}</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {t(`notif.channel.${c}`)}
              </option>
            ))}
          </select>
        </div>
        <button type="button" class="secondary" onClick={() => void load()}>
          {t('notif.outbox.refresh')}
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <ListTable
        items={items}
        count={(n) => t('notif.outbox.count', { count: n })}
        loading={t('notif.loading')}
        empty={t('notif.outbox.empty')}
        labelledBy="outbox-heading"
        tableClass="outbox-list"
        columns={[
          t('notif.outbox.when'),
          t('notif.outbox.to'),
          t('notif.outbox.channel'),
          t('notif.outbox.text'),
          t('notif.outbox.state'),
          t('notif.outbox.attempts'),
          t('notif.outbox.answer'),
        ]}
        row={(m) => (
          <tr key={m.id} data-outbox-id={m.id} data-state={m.state}>
            <td data-label={t('notif.outbox.when')}>{formatTime(lang, m.created_at)}</td>
            <td data-label={t('notif.outbox.to')}>{m.contact.name ?? `${m.contact.id} ${t('notif.outbox.removed')}`}</td>
            <td data-label={t('notif.outbox.channel')}>{t(`notif.channel.${m.channel}`)}</td>
            <td data-label={t('notif.outbox.text')} class="outbox-text">
              {m.text}
            </td>
            <td data-label={t('notif.outbox.state')}>
              <span class={`state ostate-${m.state}`}>{t(`notif.state.${m.state}`)}</span>
              {m.next_attempt_at && <span class="hint"> {t('notif.outbox.next', { time: formatTime(lang, m.next_attempt_at) })}</span>}
            </td>
            <td data-label={t('notif.outbox.attempts')}>{m.attempts}</td>
            <td data-label={t('notif.outbox.answer')} class="outbox-answer">
              <code>{m.provider_answer ?? ''}</code>
            </td>
          </tr>
        )}
      />
    </section>
  )
}
