import { useEffect, useState } from 'preact/hooks'
import { ApiError } from '../api.ts'
import { loadRejects, type Device, type Reject } from '../devices.ts'
import { formatTime, useI18n } from '../i18n.ts'
import { useModal } from '../modal.ts'

/** A device's last refused MQTT messages (GET /devices/:id/rejects), newest first, in a dialog. */
export function RejectsDialog({ device, onClose }: { device: Device; onClose: () => void }) {
  const { t, lang } = useI18n()
  const ref = useModal()
  const [items, setItems] = useState<Reject[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    loadRejects(device.id).then(setItems, (err: unknown) => {
      setError(err instanceof ApiError && err.status !== 0 ? t('error.server', { message: err.message }) : t('error.network'))
    })
  }, [device.id])
  return (
    <dialog ref={ref} class="action-dialog rejects-dialog" aria-labelledby="rejects-title" onClose={onClose}>
      <h2 id="rejects-title">{t('devices.rejects.heading', { name: device.name, id: device.id })}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <p class="muted">{t('devices.loading')}</p>}
      {items?.length === 0 && <p class="empty">{t('devices.rejects.none')}</p>}
      {items && items.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="rejects-title">
          <table class="history rejects">
            <thead>
              <tr>
                <th scope="col">{t('devices.rejects.when')}</th>
                <th scope="col">{t('devices.rejects.reason')}</th>
                <th scope="col">{t('devices.rejects.message')}</th>
                <th scope="col">{t('devices.rejects.topic')}</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
      <div class="dialog-buttons">
        <button type="button" onClick={onClose}>
          {t('devices.rejects.close')}
        </button>
      </div>
    </dialog>
  )
}
