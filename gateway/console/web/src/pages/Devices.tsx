import { useCallback, useEffect, useState } from 'preact/hooks'
import { listDevices, removeDevice, rotateSecret, setState, type Device, type Registered } from '../devices.ts'
import { formatNumber, formatTime, useI18n, type Lang } from '../i18n.ts'
import { isSilent, loadLatest, type Latest } from '../stations.ts'
import { ConfirmDialog } from './DevicesConfirm.tsx'
import { CredentialsPanel } from './DevicesCredentials.tsx'
import { DeviceForm } from './DevicesForm.tsx'
import { RejectsDialog } from './DevicesRejects.tsx'
import { ListTable, RowButton } from '../components/ListTable.tsx'
import { ErrorText } from '../components/ErrorText.tsx'
import { asApiError, failureText } from '../failure.ts'

/** Degrees as registered (up to 6 decimals, about 0.1 m), with the language's decimal sign. */
const coordinate = (lang: Lang, n: number) =>
  new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: 6 }).format(n)

const COLUMNS = ['id', 'name', 'kind', 'station', 'district', 'location', 'state', 'signal', 'battery', 'lastSeen'] as const

type Pending = { device: Device; action: 'rotate' | 'remove' } | null

/**
 * The technician's devices (docs/console.md, "Devices"): the list, registration with the one-time
 * credentials, rotate secret, disable/enable, remove and the reject log. Officers and viewers see
 * the list only (the API lets them read devices, nothing more).
 */
export function Devices({ canManage }: { canManage: boolean }) {
  const { t, lang } = useI18n()
  const [devices, setDevices] = useState<Device[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [shown, setShown] = useState<{ result: Registered; rotated: boolean } | null>(null)
  const [pending, setPending] = useState<Pending>(null)
  const [rejectsOf, setRejectsOf] = useState<Device | null>(null)

  const fail = useCallback((err: unknown) => setError(failureText(t, asApiError(err))), [t])
  // Battery and last seen come from each device's newest reading (GET /readings/latest; `battery`
  // is a telemetry metric of every kind, docs/mqtt.md); a list without them still shows.
  const [latest, setLatest] = useState<ReadonlyMap<string, Latest>>(new Map())
  const [now, setNow] = useState(() => Date.now())
  const reload = useCallback(() => {
    loadLatest().then(
      (l) => {
        setLatest(new Map(l.map((x) => [x.device, x])))
        setNow(Date.now())
      },
      () => {},
    )
    return listDevices().then((d) => {
      setDevices(d)
      setError(null)
    }, fail)
  }, [fail])
  useEffect(() => {
    void reload()
  }, [])

  const credentials = (result: Registered, rotated: boolean) => {
    setShown({ result, rotated })
    void reload()
    // The panel is the answer to what was just done: bring it into view and focus.
    requestAnimationFrame(() => document.querySelector<HTMLElement>('.credentials')?.focus())
  }
  const act = async (p: NonNullable<Pending>) => {
    setPending(null)
    try {
      if (p.action === 'rotate') credentials(await rotateSecret(p.device.id), true)
      else {
        await removeDevice(p.device.id)
        if (shown?.result.device.id === p.device.id) setShown(null)
        await reload()
      }
    } catch (err) {
      fail(err)
    }
  }
  const toggle = async (d: Device) => {
    try {
      await setState(d.id, d.state === 'active' ? 'disabled' : 'active')
      await reload()
    } catch (err) {
      fail(err)
    }
  }

  const label = (d: Device) => `${d.name} (${d.id})`
  return (
    <section class="devices" aria-labelledby="devices-heading">
      <h1 id="devices-heading">{t('devices.heading')}</h1>
      {shown && (
        <CredentialsPanel
          key={shown.result.credentials.password}
          result={shown.result}
          rotated={shown.rotated}
          onClose={() => setShown(null)}
        />
      )}
      {canManage && <DeviceForm onRegistered={(r) => credentials(r, false)} />}
      <ErrorText message={error} />
      <ListTable
        items={devices}
        count={(n) => t('devices.count', { count: n })}
        loading={t('devices.loading')}
        empty={t('devices.empty')}
        labelledBy="devices-heading"
        tableClass="device-list"
        columns={[...COLUMNS, ...(canManage ? (['actions'] as const) : [])].map((c) => t(`devices.${c}`))}
        row={(d) => {
          const l = latest.get(d.id)
          const battery = l?.values.battery
          const silent = isSilent(l?.ts, now)
          return (
            <tr key={d.id} data-device-id={d.id} class={`device-${d.state}`}>
              <td data-label={t('devices.id')}>
                <code>{d.id}</code>
              </td>
              <td data-label={t('devices.name')} class="device-name">
                {d.name}
              </td>
              <td data-label={t('devices.kind')}>{t(`devices.kind.${d.kind}`)}</td>
              <td data-label={t('devices.station')}>{d.station ?? ''}</td>
              <td data-label={t('devices.district')}>{d.district ?? ''}</td>
              <td data-label={t('devices.location')}>
                {d.location ? `${coordinate(lang, d.location.lat)}; ${coordinate(lang, d.location.lon)}` : ''}
              </td>
              <td data-label={t('devices.state')}>
                <span class={`state dstate-${d.state}`}>{t(`devices.state.${d.state}`)}</span>
              </td>
              <td data-label={t('devices.signal')}>
                {d.kind === 'camera' ? (
                  ''
                ) : (
                  <span class={silent ? 'state state-open' : 'state state-acknowledged'}>
                    {!l ? t('stations.never') : silent ? t('stations.silent') : t('stations.online')}
                  </span>
                )}
              </td>
              <td data-label={t('devices.battery')}>{typeof battery === 'number' ? `${formatNumber(lang, battery)} V` : ''}</td>
              <td data-label={t('devices.lastSeen')}>{l ? formatTime(lang, l.ts) : ''}</td>
              {canManage && (
                <td data-label={t('devices.actions')}>
                  <div class="device-actions">
                    <RowButton text={t('devices.rejects')} of={label(d)} onClick={() => setRejectsOf(d)} />
                    {d.state !== 'decommissioned' && (
                      <>
                        <RowButton text={t('devices.rotate')} of={label(d)} onClick={() => setPending({ device: d, action: 'rotate' })} />
                        <RowButton
                          text={t(d.state === 'active' ? 'devices.disable' : 'devices.enable')}
                          of={label(d)}
                          onClick={() => void toggle(d)}
                        />
                        <RowButton
                          text={t('devices.remove')}
                          of={label(d)}
                          danger
                          onClick={() => setPending({ device: d, action: 'remove' })}
                        />
                      </>
                    )}
                  </div>
                </td>
              )}
            </tr>
          )
        }}
      />
      {pending && (
        <ConfirmDialog
          title={t(pending.action === 'rotate' ? 'devices.rotate.title' : 'devices.remove.title')}
          text={t(pending.action === 'rotate' ? 'devices.rotate.text' : 'devices.remove.text', { name: label(pending.device) })}
          confirm={t(pending.action === 'rotate' ? 'devices.rotate' : 'devices.remove')}
          onConfirm={() => void act(pending)}
          onClose={() => setPending(null)}
        />
      )}
      {rejectsOf && <RejectsDialog device={rejectsOf} onClose={() => setRejectsOf(null)} />}
    </section>
  )
}
