import type { RefObject } from 'preact'
import { useEffect, useRef } from 'preact/hooks'

/**
 * A <dialog> opened as a modal while the component is mounted: showModal() gives the focus trap,
 * Escape and the inert page behind it that a hand-made overlay would have to rebuild.
 */
export function useModal(): RefObject<HTMLDialogElement> {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current
    if (d && !d.open) d.showModal()
    return () => d?.close()
  }, [])
  return ref
}
