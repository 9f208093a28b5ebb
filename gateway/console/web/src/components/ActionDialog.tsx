import { useState } from 'preact/hooks'
import { actOn, type Alert } from '../alerts.ts'
import { useI18n } from '../i18n.ts'
import type { AlertAction } from './AlertCard.tsx'
import { useModal } from '../modal.ts'
import { useSubmit } from '../failure.ts'
import { ErrorText } from './ErrorText.tsx'
import { SubmitButton } from './Field.tsx'

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
  // 409: someone else acted first; the caller says so and shows the alert as it now is.
  const { busy, error, run } = useSubmit(t, (e) => (e.status === 409 ? (onClose(true), null) : undefined))

  const submit = async (ev: Event) => {
    ev.preventDefault()
    await run(async () => {
      onDone(await actOn(alert.id, action, note))
      onClose(false)
    })
  }
  const verb = action === 'ack' ? t('alert.ack') : t('alert.resolve')
  return (
    <dialog ref={ref} class="action-dialog" aria-labelledby="action-title" onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <h2 id="action-title">{action === 'ack' ? t('action.ackTitle') : t('action.resolveTitle')}</h2>
        <p class="dialog-alert">{alert.title}</p>
        <label for="action-note">{t('action.note')}</label>
        <textarea id="action-note" name="note" rows={3} maxLength={1000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        <ErrorText message={error} />
        <div class="dialog-buttons">
          <button type="button" class="secondary" onClick={() => onClose(false)}>
            {t('action.cancel')}
          </button>
          <SubmitButton busy={busy} busyText={t('action.busy')} text={verb} />
        </div>
      </form>
    </dialog>
  )
}
