import type { ComponentChildren } from 'preact'

/**
 * One labelled control of a form: the label bound to the control by its id, the control, and a
 * hint below it (the control points at the hint by aria-describedby=hintId).
 */
export function Field({
  id,
  label,
  hint,
  hintId = `${id}-hint`,
  class: cls,
  children,
}: {
  id: string
  label: string
  hint?: string
  hintId?: string
  class?: string
  children: ComponentChildren
}) {
  return (
    <div class={cls}>
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <p id={hintId} class="hint">
          {hint}
        </p>
      )}
    </div>
  )
}

export interface Option {
  value: string
  label: string
}

/** A labelled <select>; `all` names a first, empty choice meaning "no filter". */
export function SelectField({
  id,
  label,
  value,
  options,
  all,
  name,
  required,
  class: cls,
  onChange,
}: {
  id: string
  label: string
  value: string
  options: readonly Option[]
  all?: string
  name?: string
  required?: boolean
  class?: string
  onChange: (value: string) => void
}) {
  return (
    <Field id={id} label={label} class={cls}>
      <select id={id} name={name} required={required} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {all !== undefined && <option value="">{all}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Field>
  )
}

/** A form's submit button: says it is busy, and cannot be pressed again, while the request runs. */
export function SubmitButton({
  busy,
  busyText,
  text,
  disabled = false,
}: {
  busy: boolean
  busyText: string
  text: string
  disabled?: boolean
}) {
  return (
    <button type="submit" disabled={busy || disabled}>
      {busy ? busyText : text}
    </button>
  )
}
