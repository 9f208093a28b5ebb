import { useState } from 'preact/hooks'
import { KINDS, SEVERITIES, type Kind, type Severity } from '../alerts.ts'
import { ApiError, type Role } from '../api.ts'
import { useI18n } from '../i18n.ts'
import { addContact, CHANNELS, editContact, splitList, type Channel, type Contact, type ContactInput } from '../notifications.ts'
import { useModal } from '../modal.ts'

const ROLES: Role[] = ['officer', 'admin', 'technician', 'viewer']

/**
 * Add or edit one contact (POST or PATCH /subscriptions) in a native modal <dialog>: focus stays
 * inside, Escape closes it and focus returns to the button that opened it.
 */
export function ContactDialog({
  contact,
  onSaved,
  onClose,
}: {
  contact: Contact | null
  onSaved: (c: Contact) => void
  onClose: () => void
}) {
  const { t } = useI18n()
  const ref = useModal()
  const [f, setF] = useState({
    name: contact?.name ?? '',
    phone: contact?.phone ?? '',
    zalo: contact?.zalo_user_id ?? '',
    role: contact?.role ?? ('officer' as Role),
    tier: String(contact?.tier ?? 1),
    kinds: contact?.kinds ?? ([] as Kind[]),
    stations: (contact?.stations ?? []).join(', '),
    districts: (contact?.districts ?? []).join(', '),
    min: contact?.min_severity ?? ('minor' as Severity),
    channels: contact?.channels ?? (['sms'] as Channel[]),
    from: contact?.quiet_hours?.from ?? '',
    to: contact?.quiet_hours?.to ?? '',
    bypass: contact?.quiet_hours?.bypass ?? ('critical' as Severity),
  })
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const text = (key: 'name' | 'phone' | 'zalo' | 'tier' | 'stations' | 'districts' | 'from' | 'to') => ({
    id: `contact-${key}`,
    name: key,
    value: f[key],
    onInput: (e: Event) => setF({ ...f, [key]: (e.currentTarget as HTMLInputElement).value }),
  })
  const toggle = <T,>(list: T[], v: T) => (list.includes(v) ? list.filter((x) => x !== v) : [...list, v])

  const submit = async (ev: Event) => {
    ev.preventDefault()
    setError(null)
    if (f.channels.length === 0) return setError(t('notif.form.needChannel'))
    if (f.channels.some((c) => c !== 'zalo_oa') && !f.phone.trim()) return setError(t('notif.form.needPhone'))
    if (f.channels.includes('zalo_oa') && !f.zalo.trim()) return setError(t('notif.form.needZalo'))
    if (!f.from !== !f.to) return setError(t('notif.form.quietBoth'))
    const input: ContactInput = {
      name: f.name.trim(),
      phone: f.phone.trim(),
      zalo_user_id: f.zalo.trim(),
      role: f.role,
      tier: Number(f.tier) || 1,
      kinds: f.kinds,
      stations: splitList(f.stations),
      districts: splitList(f.districts),
      min_severity: f.min,
      channels: f.channels,
      quiet_hours: f.from && f.to ? { from: f.from, to: f.to, bypass: f.bypass } : null,
    }
    setBusy(true)
    try {
      onSaved(contact ? await editContact(contact.id, input) : await addContact(input))
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'network')
      setError(e.status === 0 ? t('error.network') : t('error.server', { message: e.message }))
    } finally {
      setBusy(false)
    }
  }

  return (
    <dialog ref={ref} class="action-dialog contact-dialog" aria-labelledby="contact-title" onClose={onClose}>
      <form onSubmit={submit}>
        <h2 id="contact-title">{contact ? t('notif.form.edit', { name: contact.name }) : t('notif.form.add')}</h2>
        <div class="form-grid">
          <div>
            <label for="contact-name">{t('notif.name')}</label>
            <input {...text('name')} required maxLength={100} autocomplete="off" />
          </div>
          <div>
            <label for="contact-phone">{t('notif.phone')}</label>
            <input {...text('phone')} type="tel" pattern="(\+?84|0)[0-9]{9,10}" autocomplete="off" />
          </div>
          <div>
            <label for="contact-zalo">{t('notif.zalo')}</label>
            <input {...text('zalo')} pattern="[0-9A-Za-z_\-]{1,64}" autocomplete="off" />
          </div>
          <div>
            <label for="contact-role">{t('notif.role')}</label>
            <select id="contact-role" value={f.role} onChange={(e) => setF({ ...f, role: e.currentTarget.value as Role })}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`role.${r}`)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="contact-tier">{t('notif.tier')}</label>
            <input {...text('tier')} type="number" min={1} max={9} aria-describedby="contact-tier-hint" />
            <p id="contact-tier-hint" class="hint">
              {t('notif.tierHint')}
            </p>
          </div>
          <div>
            <label for="contact-min">{t('notif.minSeverity')}</label>
            <select id="contact-min" value={f.min} onChange={(e) => setF({ ...f, min: e.currentTarget.value as Severity })}>
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {t(`severity.${s}`)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="contact-stations">{t('notif.stations')}</label>
            <input {...text('stations')} autocomplete="off" aria-describedby="contact-places-hint" />
          </div>
          <div>
            <label for="contact-districts">{t('notif.districts')}</label>
            <input {...text('districts')} autocomplete="off" aria-describedby="contact-places-hint" />
            <p id="contact-places-hint" class="hint">
              {t('notif.placesHint')}
            </p>
          </div>
        </div>
        <fieldset class="checks">
          <legend>{t('notif.channels')}</legend>
          {CHANNELS.map((c) => (
            <label key={c}>
              <input
                type="checkbox"
                name="channels"
                value={c}
                checked={f.channels.includes(c)}
                onChange={() => setF({ ...f, channels: toggle(f.channels, c) })}
              />{' '}
              {t(`notif.channel.${c}`)}
            </label>
          ))}
        </fieldset>
        <fieldset class="checks">
          <legend>{t('notif.kinds')}</legend>
          {KINDS.map((k) => (
            <label key={k}>
              <input
                type="checkbox"
                name="kinds"
                value={k}
                checked={f.kinds.includes(k)}
                onChange={() => setF({ ...f, kinds: toggle(f.kinds, k) })}
              />{' '}
              {t(`kind.${k}`)}
            </label>
          ))}
        </fieldset>
        <fieldset class="quiet">
          <legend>{t('notif.quiet')}</legend>
          <div class="form-grid">
            <div>
              <label for="contact-from">{t('notif.quiet.from')}</label>
              <input {...text('from')} type="time" aria-describedby="contact-quiet-hint" />
            </div>
            <div>
              <label for="contact-to">{t('notif.quiet.to')}</label>
              <input {...text('to')} type="time" aria-describedby="contact-quiet-hint" />
            </div>
            <div>
              <label for="contact-bypass">{t('notif.quiet.bypass')}</label>
              <select id="contact-bypass" value={f.bypass} onChange={(e) => setF({ ...f, bypass: e.currentTarget.value as Severity })}>
                {SEVERITIES.filter((s) => s !== 'info').map((s) => (
                  <option key={s} value={s}>
                    {t(`severity.${s}`)}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <p id="contact-quiet-hint" class="hint">
            {t('notif.quiet.hint')}
          </p>
        </fieldset>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-buttons">
          <button type="button" class="secondary" onClick={onClose}>
            {t('action.cancel')}
          </button>
          <button type="submit" disabled={busy}>
            {busy ? t('action.busy') : t('notif.save')}
          </button>
        </div>
      </form>
    </dialog>
  )
}
