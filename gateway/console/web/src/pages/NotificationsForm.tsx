import { useState } from 'preact/hooks'
import { KINDS, SEVERITIES, type Kind, type Severity } from '../alerts.ts'
import type { Role } from '../api.ts'
import { useI18n } from '../i18n.ts'
import { addContact, CHANNELS, editContact, splitList, type Channel, type Contact, type ContactInput } from '../notifications.ts'
import { useModal } from '../modal.ts'
import { useSubmit } from '../failure.ts'
import { ErrorText } from '../components/ErrorText.tsx'
import { Field, SelectField, SubmitButton, type Option } from '../components/Field.tsx'

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
  const { busy, error, setError, run } = useSubmit(t)
  const text = (key: 'name' | 'phone' | 'zalo' | 'tier' | 'stations' | 'districts' | 'from' | 'to') => ({
    id: `contact-${key}`,
    name: key,
    value: f[key],
    onInput: (e: Event) => setF({ ...f, [key]: (e.currentTarget as HTMLInputElement).value }),
  })
  const toggle = <T,>(list: T[], v: T) => (list.includes(v) ? list.filter((x) => x !== v) : [...list, v])
  const severities = (list: readonly Severity[]) => list.map((s) => ({ value: s, label: t(`severity.${s}`) }))

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
    await run(async () => onSaved(contact ? await editContact(contact.id, input) : await addContact(input)))
  }

  return (
    <dialog ref={ref} class="action-dialog contact-dialog" aria-labelledby="contact-title" onClose={onClose}>
      <form onSubmit={submit}>
        <h2 id="contact-title">{contact ? t('notif.form.edit', { name: contact.name }) : t('notif.form.add')}</h2>
        <div class="form-grid">
          <Field id="contact-name" label={t('notif.name')}>
            <input {...text('name')} required maxLength={100} autocomplete="off" />
          </Field>
          <Field id="contact-phone" label={t('notif.phone')}>
            <input {...text('phone')} type="tel" pattern="(\+?84|0)[0-9]{9,10}" autocomplete="off" />
          </Field>
          <Field id="contact-zalo" label={t('notif.zalo')}>
            <input {...text('zalo')} pattern="[0-9A-Za-z_\-]{1,64}" autocomplete="off" />
          </Field>
          <SelectField
            id="contact-role"
            label={t('notif.role')}
            value={f.role}
            options={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))}
            onChange={(v) => setF({ ...f, role: v as Role })}
          />
          <Field id="contact-tier" label={t('notif.tier')} hint={t('notif.tierHint')}>
            <input {...text('tier')} type="number" min={1} max={9} aria-describedby="contact-tier-hint" />
          </Field>
          <SelectField
            id="contact-min"
            label={t('notif.minSeverity')}
            value={f.min}
            options={severities(SEVERITIES)}
            onChange={(v) => setF({ ...f, min: v as Severity })}
          />
          <Field id="contact-stations" label={t('notif.stations')}>
            <input {...text('stations')} autocomplete="off" aria-describedby="contact-places-hint" />
          </Field>
          <Field id="contact-districts" label={t('notif.districts')} hint={t('notif.placesHint')} hintId="contact-places-hint">
            <input {...text('districts')} autocomplete="off" aria-describedby="contact-places-hint" />
          </Field>
        </div>
        <Checks
          name="channels"
          legend={t('notif.channels')}
          options={CHANNELS.map((c) => ({ value: c, label: t(`notif.channel.${c}`) }))}
          checked={f.channels}
          onToggle={(c) => setF({ ...f, channels: toggle(f.channels, c) })}
        />
        <Checks
          name="kinds"
          legend={t('notif.kinds')}
          options={KINDS.map((k) => ({ value: k, label: t(`kind.${k}`) }))}
          checked={f.kinds}
          onToggle={(k) => setF({ ...f, kinds: toggle(f.kinds, k) })}
        />
        <fieldset class="quiet">
          <legend>{t('notif.quiet')}</legend>
          <div class="form-grid">
            {(['from', 'to'] as const).map((k) => (
              <Field key={k} id={`contact-${k}`} label={t(`notif.quiet.${k}`)}>
                <input {...text(k)} type="time" aria-describedby="contact-quiet-hint" />
              </Field>
            ))}
            <SelectField
              id="contact-bypass"
              label={t('notif.quiet.bypass')}
              value={f.bypass}
              options={severities(SEVERITIES.filter((s) => s !== 'info'))}
              onChange={(v) => setF({ ...f, bypass: v as Severity })}
            />
          </div>
          <p id="contact-quiet-hint" class="hint">
            {t('notif.quiet.hint')}
          </p>
        </fieldset>
        <ErrorText message={error} />
        <div class="dialog-buttons">
          <button type="button" class="secondary" onClick={onClose}>
            {t('action.cancel')}
          </button>
          <SubmitButton busy={busy} busyText={t('action.busy')} text={t('notif.save')} />
        </div>
      </form>
    </dialog>
  )
}

/** A fieldset of checkboxes, one a choice, the checked ones those in `checked`. */
function Checks<T extends string>({
  name,
  legend,
  options,
  checked,
  onToggle,
}: {
  name: string
  legend: string
  options: Array<Option & { value: T }>
  checked: readonly T[]
  onToggle: (value: T) => void
}) {
  return (
    <fieldset class="checks">
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o.value}>
          <input type="checkbox" name={name} value={o.value} checked={checked.includes(o.value)} onChange={() => onToggle(o.value)} />{' '}
          {o.label}
        </label>
      ))}
    </fieldset>
  )
}
