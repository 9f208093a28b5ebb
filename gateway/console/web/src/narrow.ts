import { useEffect, useState } from 'preact/hooks'

/** The phone layout's breakpoint of styles.css. */
const NARROW = '(max-width: 720px)'

/** True while the window is as narrow as a phone's; charts draw fewer ticks and labels then. */
export function useNarrow(): boolean {
  const [narrow, setNarrow] = useState(() => matchMedia(NARROW).matches)
  useEffect(() => {
    const mq = matchMedia(NARROW)
    const on = () => setNarrow(mq.matches)
    mq.addEventListener('change', on)
    return () => mq.removeEventListener('change', on)
  }, [])
  return narrow
}
