import { useI18n } from '../i18n.ts'
import { useModal } from '../modal.ts'

/** A yes/no question in a native modal <dialog> (focus kept inside, Escape cancels). */
export function ConfirmDialog({
  title,
  text,
  confirm,
  onConfirm,
  onClose,
}: {
  title: string
  text: string
  confirm: string
  onConfirm: () => void
  onClose: () => void
}) {
  const { t } = useI18n()
  const ref = useModal()
  return (
    <dialog ref={ref} class="action-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text" onClose={onClose}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault()
          onConfirm()
        }}
      >
        <h2 id="confirm-title">{title}</h2>
        <p id="confirm-text" class="dialog-alert">
          {text}
        </p>
        <div class="dialog-buttons">
          <button type="button" class="secondary" onClick={onClose}>
            {t('action.cancel')}
          </button>
          <button type="submit">{confirm}</button>
        </div>
      </form>
    </dialog>
  )
}
