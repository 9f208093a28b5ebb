import { useState } from 'preact/hooks'
import { actOn, type Alert } from '../alerts.ts'
import { ApiError } from '../api.ts'
import { useI18n } from '../i18n.ts'
import type { AlertAction } from './AlertCard.tsx'
import { useModal } from '../modal.ts'

/**
 * Acknowledge or resolve one alert with an optional note, in a native modal <dialog> (focus is
 * kept inside it, Escape closes it and focus returns to the button that opened it).
 */
export function ActionDialog({
  alert,
  action,
  onDone,
  onClose,
}: {
  alert: Alert
  action: AlertAction
  onDone: (a: Alert) => void
  onClose: (conflict: boolean) => void
}) {
  const { t } = useI18n()
  const ref = useModal()
  const [note, setNote] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const submit = async (ev: Event) => {
    ev.preventDefault()
    setBusy(true)
    setError(null)
    try {
      onDone(await actOn(alert.id, action, note))
      onClose(false)
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'network')
      if (e.status === 409) return onClose(true)
      setError(e.status === 0 ? t('error.network') : t('error.server', { message: e.message }))
    } finally {
      setBusy(false)
    }
  }
  const verb = action === 'ack' ? t('alert.ack') : t('alert.resolve')
  return (
    <dialog ref={ref} class="action-dialog" aria-labelledby="action-title" onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <h2 id="action-title">{action === 'ack' ? t('action.ackTitle') : t('action.resolveTitle')}</h2>
        <p class="dialog-alert">{alert.title}</p>
        <label for="action-note">{t('action.note')}</label>
        <textarea id="action-note" name="note" rows={3} maxLength={1000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-buttons">
          <button type="button" class="secondary" onClick={() => onClose(false)}>
            {t('action.cancel')}
          </button>
          <button type="submit" disabled={busy}>
            {busy ? t('action.busy') : verb}
          </button>
        </div>
      </form>
    </dialog>
  )
}
