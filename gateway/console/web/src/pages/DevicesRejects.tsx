import { useEffect, useState } from 'preact/hooks'
import { loadRejects, type Device, type Reject } from '../devices.ts'
import { formatTime, useI18n } from '../i18n.ts'
import { useModal } from '../modal.ts'
import { asApiError, failureText } from '../failure.ts'
import { LoadState } from '../components/LoadState.tsx'
import { ScrollTable } from '../components/Table.tsx'

/** A device's last refused MQTT messages (GET /devices/:id/rejects), newest first, in a dialog. */
export function RejectsDialog({ device, onClose }: { device: Device; onClose: () => void }) {
  const { t, lang } = useI18n()
  const ref = useModal()
  const [items, setItems] = useState<Reject[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    loadRejects(device.id).then(setItems, (err: unknown) => {
      setError(failureText(t, asApiError(err)))
    })
  }, [device.id])
  return (
    <dialog ref={ref} class="action-dialog rejects-dialog" aria-labelledby="rejects-title" onClose={onClose}>
      <h2 id="rejects-title">{t('devices.rejects.heading', { name: device.name, id: device.id })}</h2>
      <LoadState items={items} error={error} loading={t('devices.loading')} empty={t('devices.rejects.none')} loadingClass="muted" />
      {items && items.length > 0 && (
        <ScrollTable
          labelledBy="rejects-title"
          tableClass="rejects"
          columns={[t('devices.rejects.when'), t('devices.rejects.reason'), t('devices.rejects.message'), t('devices.rejects.topic')]}
        >
          {items.map((r, i) => (
            <tr key={i}>
              <td data-label={t('devices.rejects.when')}>{formatTime(lang, r.ts)}</td>
              <td data-label={t('devices.rejects.reason')}>
                <code>{r.reason}</code>
              </td>
              <td data-label={t('devices.rejects.message')}>
                {r.message}
                {r.excerpt ? (
                  <>
                    <br />
                    <code class="excerpt">{r.excerpt}</code>
                  </>
                ) : null}
              </td>
              <td data-label={t('devices.rejects.topic')}>
                <code>{r.topic}</code>
              </td>
            </tr>
          ))}
        </ScrollTable>
      )}
      <div class="dialog-buttons">
        <button type="button" onClick={onClose}>
          {t('devices.rejects.close')}
        </button>
      </div>
    </dialog>
  )
}
