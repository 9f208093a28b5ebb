import { useCallback, useEffect, useState } from 'preact/hooks'
import { formatTime, useI18n } from '../i18n.ts'
import { CHANNELS, listNotifications, OUTBOX_STATES, type Channel, type Notification, type OutboxState } from '../notifications.ts'
import { ListTable } from '../components/ListTable.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { SelectField } from '../components/Field.tsx'
import { asApiError, failureText } from '../failure.ts'

const COLUMNS = ['when', 'to', 'channel', 'text', 'state', 'attempts', 'answer'] as const

/** The outbox (GET /notifications), newest first, filtered by state and channel. */
export function Outbox({ reloadKey }: { reloadKey: number }) {
  const { t, lang } = useI18n()
  const [filter, setFilter] = useState<{ state: OutboxState | ''; channel: Channel | '' }>({ state: '', channel: '' })
  const [items, setItems] = useState<Notification[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(
    () =>
      listNotifications(filter).then(
        (p) => {
          setItems(p.items)
          setError(null)
        },
        (err: unknown) => setError(failureText(t, asApiError(err))),
      ),
    [filter, t],
  )
  useEffect(() => {
    void load()
  }, [load, reloadKey])

  return (
    <section class="outbox" aria-labelledby="outbox-heading">
      <h2 id="outbox-heading">{t('notif.outbox')}</h2>
      <div class="outbox-filters">
        {(
          [
            ['state', OUTBOX_STATES.map((s) => ({ value: s, label: t(`notif.state.${s}`) }))],
            ['channel', CHANNELS.map((c) => ({ value: c, label: t(`notif.channel.${c}`) }))],
          ] as const
        ).map(([k, options]) => (
          <SelectField
            key={k}
            id={`outbox-${k}`}
            label={t(`notif.outbox.${k}`)}
            all={t('notif.all')}
            value={filter[k]}
            options={options}
            onChange={(v) => setFilter({ ...filter, [k]: v })}
          />
        ))}
        <button type="button" class="secondary" onClick={() => void load()}>
          {t('notif.outbox.refresh')}
        </button>
      </div>
      <ErrorText message={error} />
      <ListTable
        items={items}
        count={(n) => t('notif.outbox.count', { count: n })}
        loading={t('notif.loading')}
        empty={t('notif.outbox.empty')}
        labelledBy="outbox-heading"
        tableClass="outbox-list"
        columns={COLUMNS.map((c) => t(`notif.outbox.${c}`))}
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
