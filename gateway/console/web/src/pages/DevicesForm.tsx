import { useState } from 'preact/hooks'
import { DEVICE_KINDS, registerDevice, type DeviceKind, type NewDevice, type Registered } from '../devices.ts'
import { useI18n } from '../i18n.ts'
import { useSubmit } from '../failure.ts'
import { ErrorText } from '../components/ErrorText.tsx'
import { Field, SelectField, SubmitButton } from '../components/Field.tsx'

const EMPTY = { kind: 'water_level' as DeviceKind, id: '', name: '', station: '', district: '', lat: '', lon: '' }

/** "16,4637" (Vietnamese) or "16.4637"; undefined when empty, NaN when not a number. */
function coordinate(text: string): number | undefined {
  const s = text.trim().replace(',', '.')
  return s ? (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN) : undefined
}

/** POST /devices from labelled fields; the answer (with the one-time credentials) goes up. */
export function DeviceForm({ onRegistered }: { onRegistered: (r: Registered) => void }) {
  const { t } = useI18n()
  const [f, setF] = useState(EMPTY)
  const { busy, error, setError, run } = useSubmit(t, (e) => (e.status === 409 ? t('devices.form.taken') : undefined))
  const field = (key: keyof typeof EMPTY) => ({
    id: `device-${key}`,
    name: key,
    value: f[key],
    onInput: (e: Event) => setF({ ...f, [key]: (e.currentTarget as HTMLInputElement).value }),
  })

  const submit = async (ev: Event) => {
    ev.preventDefault()
    setError(null)
    const lat = coordinate(f.lat)
    const lon = coordinate(f.lon)
    if ((lat === undefined) !== (lon === undefined) || Number.isNaN(lat) || Number.isNaN(lon)) {
      setError(t('devices.form.badLocation'))
      return
    }
    const body: NewDevice = {
      kind: f.kind,
      name: f.name.trim(),
      ...(f.id.trim() ? { id: f.id.trim() } : {}),
      ...(f.station.trim() ? { station: f.station.trim() } : {}),
      ...(f.district.trim() ? { district: f.district.trim() } : {}),
      ...(lat !== undefined && lon !== undefined ? { location: { lat, lon } } : {}),
    }
    await run(async () => {
      onRegistered(await registerDevice(body))
      setF(EMPTY)
    })
  }

  return (
    <details class="filters-box device-form" open={window.matchMedia('(min-width: 721px)').matches}>
      <summary>{t('devices.form.heading')}</summary>
      <form onSubmit={submit}>
        <div class="form-grid">
          <SelectField
            id="device-kind"
            name="kind"
            label={t('devices.kind')}
            value={f.kind}
            required
            options={DEVICE_KINDS.map((k) => ({ value: k, label: t(`devices.kind.${k}`) }))}
            onChange={(v) => setF({ ...f, kind: v as DeviceKind })}
          />
          <Field id="device-id" label={t('devices.form.id')} hint={t('devices.form.idHint')}>
            <input
              {...field('id')}
              pattern="[a-z0-9][a-z0-9\-]{2,63}"
              maxLength={64}
              autocomplete="off"
              aria-describedby="device-id-hint"
            />
          </Field>
          <Field id="device-name" label={t('devices.name')}>
            <input {...field('name')} required maxLength={200} autocomplete="off" />
          </Field>
          <Field id="device-station" label={t('devices.station')}>
            <input {...field('station')} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" maxLength={64} autocomplete="off" />
          </Field>
          <Field id="device-district" label={t('devices.district')}>
            <input {...field('district')} maxLength={100} autocomplete="off" />
          </Field>
          <Field id="device-lat" label={t('devices.form.lat')}>
            <input {...field('lat')} inputMode="decimal" autocomplete="off" />
          </Field>
          <Field id="device-lon" label={t('devices.form.lon')}>
            <input {...field('lon')} inputMode="decimal" autocomplete="off" />
          </Field>
        </div>
        <ErrorText message={error} />
        <SubmitButton busy={busy} busyText={t('action.busy')} text={t('devices.form.submit')} />
      </form>
    </details>
  )
}
