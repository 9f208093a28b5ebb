import { useState } from 'preact/hooks'
import { ApiError } from '../api.ts'
import { DEVICE_KINDS, registerDevice, type DeviceKind, type NewDevice, type Registered } from '../devices.ts'
import { useI18n } from '../i18n.ts'

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
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
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
    setBusy(true)
    try {
      onRegistered(await registerDevice(body))
      setF(EMPTY)
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'network')
      setError(e.status === 0 ? t('error.network') : e.status === 409 ? t('devices.form.taken') : t('error.server', { message: e.message }))
    } finally {
      setBusy(false)
    }
  }

  return (
    <details class="filters-box device-form" open={window.matchMedia('(min-width: 721px)').matches}>
      <summary>{t('devices.form.heading')}</summary>
      <form onSubmit={submit}>
        <div class="form-grid">
          <div>
            <label for="device-kind">{t('devices.kind')}</label>
            <select {...field('kind')} required>
              {DEVICE_KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`devices.kind.${k}`)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="device-id">{t('devices.form.id')}</label>
            <input
              {...field('id')}
              pattern="[a-z0-9][a-z0-9\-]{2,63}"
              maxLength={64}
              autocomplete="off"
              aria-describedby="device-id-hint"
            />
            <p id="device-id-hint" class="hint">
              {t('devices.form.idHint')}
            </p>
          </div>
          <div>
            <label for="device-name">{t('devices.name')}</label>
            <input {...field('name')} required maxLength={200} autocomplete="off" />
          </div>
          <div>
            <label for="device-station">{t('devices.station')}</label>
            <input {...field('station')} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" maxLength={64} autocomplete="off" />
          </div>
          <div>
            <label for="device-district">{t('devices.district')}</label>
            <input {...field('district')} maxLength={100} autocomplete="off" />
          </div>
          <div>
            <label for="device-lat">{t('devices.form.lat')}</label>
            <input {...field('lat')} inputMode="decimal" autocomplete="off" />
          </div>
          <div>
            <label for="device-lon">{t('devices.form.lon')}</label>
            <input {...field('lon')} inputMode="decimal" autocomplete="off" />
          </div>
        </div>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? t('action.busy') : t('devices.form.submit')}
        </button>
      </form>
    </details>
  )
}
