import { useCallback, useEffect, useState } from 'preact/hooks'
import { useI18n } from '../i18n.ts'
import { listContacts, removeContact, sendTest, type Contact, type TestResult } from '../notifications.ts'
import { ConfirmDialog } from './DevicesConfirm.tsx'
import { ContactDialog } from './NotificationsForm.tsx'
import { Outbox } from './NotificationsOutbox.tsx'
import { ListTable, RowButton } from '../components/ListTable.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { asApiError, failureText } from '../failure.ts'

/**
 * Who is told of which alerts, how, and what was sent (docs/console.md, "Notifications"): the
 * contacts with add/edit/remove and a test message, and the outbox. Officers and admins only,
 * as the API (docs/api.md, roles); a scoped officer sees the contacts and messages of their places.
 */
const COLUMNS = ['name', 'phone', 'tier', 'places', 'minSeverity', 'channels', 'quiet', 'actions'] as const

export function Notifications() {
  const { t } = useI18n()
  const [contacts, setContacts] = useState<Contact[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [editing, setEditing] = useState<Contact | 'new' | null>(null)
  const [removing, setRemoving] = useState<Contact | null>(null)
  const [tested, setTested] = useState<{ name: string; results: TestResult[] } | null>(null)
  const [warnings, setWarnings] = useState<string[]>([])
  const [outboxKey, setOutboxKey] = useState(0)

  const fail = useCallback((err: unknown) => setError(failureText(t, asApiError(err))), [t])
  const reload = useCallback(
    () =>
      listContacts().then((c) => {
        setContacts(c)
        setError(null)
      }, fail),
    [fail],
  )
  useEffect(() => {
    void reload()
  }, [])

  const test = async (c: Contact) => {
    setTested(null)
    try {
      setTested({ name: c.name, results: await sendTest(c.id) })
      setOutboxKey((k) => k + 1)
      requestAnimationFrame(() => document.querySelector<HTMLElement>('.test-results')?.focus())
    } catch (err) {
      fail(err)
    }
  }
  const remove = async (c: Contact) => {
    setRemoving(null)
    try {
      await removeContact(c.id)
      await reload()
    } catch (err) {
      fail(err)
    }
  }
  const places = (c: Contact) => [...(c.stations ?? []), ...(c.districts ?? [])].join(', ') || t('notif.everywhere')
  const label = (c: Contact) => `${c.name} (${c.phone ?? c.zalo_user_id ?? c.id})`

  return (
    <section class="notifications" aria-labelledby="notif-heading">
      <h1 id="notif-heading">{t('notif.heading')}</h1>
      <h2 id="contacts-heading">{t('notif.contacts')}</h2>
      <button type="button" onClick={() => setEditing('new')}>
        {t('notif.add')}
      </button>
      <ErrorText message={error} />
      {warnings.map((w) => (
        <p key={w} class="error" role="status">
          {t('notif.warning', { text: w })}
        </p>
      ))}
      {tested && (
        <div class="test-results" tabIndex={-1} role="status" aria-labelledby="test-heading">
          <h3 id="test-heading">{t('notif.test.heading', { name: tested.name })}</h3>
          <ul>
            {tested.results.map((r) => (
              <li key={r.channel} class={r.ok ? 'ok' : 'fail'} data-channel={r.channel}>
                {r.ok
                  ? t('notif.test.ok', { channel: t(`notif.channel.${r.channel}`) })
                  : t('notif.test.fail', {
                      channel: t(`notif.channel.${r.channel}`),
                      message: [r.code, r.message].filter(Boolean).join(': '),
                    })}
              </li>
            ))}
          </ul>
        </div>
      )}
      <ListTable
        items={contacts}
        count={(n) => t('notif.contacts.count', { count: n })}
        loading={t('notif.loading')}
        empty={t('notif.contacts.empty')}
        labelledBy="contacts-heading"
        tableClass="contact-list"
        columns={COLUMNS.map((c) => t(`notif.${c}`))}
        row={(c) => (
          <tr key={c.id} data-contact-id={c.id}>
            <td data-label={t('notif.name')} class="contact-name">
              {c.name}
            </td>
            <td data-label={t('notif.phone')}>{c.phone ?? c.zalo_user_id ?? ''}</td>
            <td data-label={t('notif.tier')}>{c.tier}</td>
            <td data-label={t('notif.places')}>{places(c)}</td>
            <td data-label={t('notif.minSeverity')}>{t(`severity.${c.min_severity}`)}</td>
            <td data-label={t('notif.channels')}>{c.channels.map((ch) => t(`notif.channel.${ch}`)).join(', ')}</td>
            <td data-label={t('notif.quiet')}>
              {c.quiet_hours
                ? `${c.quiet_hours.from}–${c.quiet_hours.to} (≥ ${t(`severity.${c.quiet_hours.bypass}`)})`
                : t('notif.quiet.none')}
            </td>
            <td data-label={t('notif.actions')}>
              <div class="device-actions">
                <RowButton text={t('notif.test')} of={label(c)} onClick={() => void test(c)} />
                <RowButton text={t('notif.edit')} of={label(c)} onClick={() => setEditing(c)} />
                <RowButton text={t('notif.remove')} of={label(c)} danger onClick={() => setRemoving(c)} />
              </div>
            </td>
          </tr>
        )}
      />
      <Outbox reloadKey={outboxKey} />
      {editing && (
        <ContactDialog
          contact={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(c) => {
            setEditing(null)
            setWarnings(c.warnings ?? [])
            void reload()
          }}
        />
      )}
      {removing && (
        <ConfirmDialog
          title={t('notif.remove.title')}
          text={t('notif.remove.text', { name: label(removing) })}
          confirm={t('notif.remove')}
          onConfirm={() => void remove(removing)}
          onClose={() => setRemoving(null)}
        />
      )}
    </section>
  )
}
